"""Explaining datasets: streamed batches, maps equal to the in-memory result, O(batch) memory."""

import json
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import vis
from vis import streaming
from vis.errors import ZeroMapWarning

N = 4096


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, N)
    return model, x, y


def test_4096_images_streamed_to_npy_and_npz_equal_the_in_memory_maps(tiny, tmp_path):
    model, x, y = tiny
    whole = vis.explain(model, x, targets=y)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(100)  # a partial last batch
    path = vis.explain(model, dataset, output_file=str(tmp_path / "maps.npy"), verbose=False)
    maps = np.load(path, mmap_mode="r")
    assert isinstance(maps, np.memmap) and maps.shape == whole.shape
    np.testing.assert_array_equal(maps, whole)
    paths = vis.explain(model, dataset, output_file=str(tmp_path / "maps-{shard:05d}.npz"),
                        shard_size=1000, verbose=False)
    assert [os.path.basename(p) for p in paths] == [f"maps-{i:05d}.npz" for i in range(5)]
    shards = [np.load(p) for p in paths]
    assert [len(s["maps"]) for s in shards] == [1000, 1000, 1000, 1000, 96]
    np.testing.assert_array_equal(np.concatenate([s["maps"] for s in shards]), whole)
    np.testing.assert_array_equal(np.concatenate([s["targets"] for s in shards]), y)
    np.testing.assert_array_equal(np.concatenate([s["index"] for s in shards]), np.arange(N))


def test_generator_of_batches_predicted_targets_and_any_iterable(tiny):
    model, x, y = tiny
    x, y = x[:300], y[:300]
    predicted = vis.explain(model, x)
    stream = vis.explain(model, tf.data.Dataset.from_tensor_slices(x).batch(64), verbose=False)
    assert not isinstance(stream, np.ndarray)
    parts = list(stream)
    assert [len(p) for p in parts] == [64, 64, 64, 64, 44]
    np.testing.assert_array_equal(np.concatenate(parts), predicted)
    # labels in the data are explained, unless targets='predicted'; single samples are batched
    labelled = tf.data.Dataset.from_tensor_slices((x, y))
    np.testing.assert_array_equal(
        np.concatenate(list(vis.explain(model, labelled, verbose=False))),
        vis.explain(model, x, targets=y))
    np.testing.assert_array_equal(
        np.concatenate(list(vis.explain(model, labelled, targets="predicted", verbose=False))),
        predicted)
    # a generator of (x, one-hot y) NumPy batches, with a method's options
    batches = ((x[i:i + 50], np.eye(3)[y[i:i + 50]]) for i in range(0, 300, 50))
    ig = np.concatenate(list(vis.explain(model, batches, "integrated_gradients", steps=8,
                                         verbose=False)))
    np.testing.assert_allclose(ig, vis.explain(model, x, "ig", y, steps=8), rtol=1e-6)
    # a keras.utils.PyDataset of (x, y) batches
    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[i * 100:(i + 1) * 100], y[i * 100:(i + 1) * 100]

    np.testing.assert_array_equal(
        np.concatenate(list(vis.explain(model, Batches(), verbose=False))),
        vis.explain(model, x, targets=y))
    # an explicit int per input of the whole stream
    t = (np.arange(300) % 3).astype("int64")
    got = vis.explain(model, iter([x[:128], x[128:]]), targets=t, verbose=False)
    np.testing.assert_array_equal(np.concatenate(list(got)), vis.explain(model, x, targets=t))


def test_multi_input_models_write_one_array_per_input(tmp_path):
    keras.utils.set_random_seed(1)
    image, meta = keras.Input((4, 4, 1), name="image"), keras.Input((3,), name="meta")
    h = keras.layers.Concatenate()([keras.layers.Flatten()(image), meta])
    model = keras.Model([image, meta], keras.layers.Dense(2)(h))
    rng = np.random.default_rng(2)
    x = {"image": rng.normal(size=(20, 4, 4, 1)).astype("float32"),
         "meta": rng.normal(size=(20, 3)).astype("float32")}
    whole = vis.explain(model, x, targets=1)
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(8)
    parts = list(vis.explain(model, dataset, targets=1, verbose=False))
    assert isinstance(parts[0], dict)
    np.testing.assert_array_equal(np.concatenate([p["meta"] for p in parts]), whole["meta"])
    paths = vis.explain(model, dataset, targets=1, output_file=str(tmp_path / "m{shard}.npz"),
                        verbose=False)
    np.testing.assert_array_equal(np.concatenate([np.load(p)["maps_image"] for p in paths]),
                                  whole["image"])
    with pytest.raises(ValueError, match=r"\.npz"):
        vis.explain(model, dataset, output_file=str(tmp_path / "m.npy"))


def test_streams_and_their_errors(tiny, tmp_path):
    model, x, _ = tiny
    dataset = tf.data.Dataset.from_tensor_slices(x[:10]).batch(4)
    for data in (dataset, iter([x[:4]])):
        assert streaming.is_stream(data)
    for data in (x, [x], (x,), {"a": x}, keras.ops.convert_to_tensor(x[:2])):
        assert not streaming.is_stream(data)
    with pytest.raises(ValueError, match="`output_file`.*shard"):
        vis.explain(model, dataset, output_file=str(tmp_path / "maps.npz"))
    with pytest.raises(ValueError, match="`output_file` must end"):
        vis.explain(model, dataset, output_file=str(tmp_path / "maps.h5"))
    with pytest.raises(ValueError, match="`shard_size`"):
        vis.explain(model, dataset, shard_size=3)
    with pytest.raises(ValueError, match="`output_file` is for datasets"):
        vis.explain(model, x[:4], output_file=str(tmp_path / "maps.npy"))
    with pytest.raises(ValueError, match="infinite"):
        list(vis.explain(model, dataset.repeat(), verbose=False))
    with pytest.raises(ValueError, match="`targets`"):
        vis.explain(model, dataset, targets="labels")
    with pytest.raises(TypeError, match="`strategy`"):
        vis.explain(model, dataset, strategy="mirrored")
    assert not (tmp_path / "maps.npy").exists()
    # warnings come once, with the positions in the stream
    model_zero = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                   keras.layers.Dense(2, kernel_initializer="zeros")])
    with pytest.warns(ZeroMapWarning, match=r"10 input\(s\) of the stream, e\.g\. at \[0, 1"):
        list(vis.explain(model_zero, dataset, verbose=False))


def test_npy_writer_leaves_a_valid_file_after_an_error(tmp_path):
    path = tmp_path / "rows.npy"

    def failing():
        yield np.ones((3, 2), "float32")
        raise RuntimeError("the data pipeline broke")

    with pytest.raises(RuntimeError):
        with streaming.NpyWriter(path) as out:
            for rows in failing():
                out.write(rows)
    np.testing.assert_array_equal(np.load(path), np.ones((3, 2), "float32"))
    with streaming.NpyWriter(tmp_path / "big.npy") as out:
        out.write(np.arange(6.0).reshape(2, 3))
        with pytest.raises(ValueError, match="Rows of shape"):
            out.write(np.zeros((1, 4)))
    assert np.load(tmp_path / "big.npy").shape == (2, 3)


def test_strategy_on_one_device_and_a_batch_smaller_than_the_replicas(tiny):
    model, x, _ = tiny
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = vis.explain(model, x[:5], strategy=strategy)
    np.testing.assert_array_equal(got, vis.explain(model, x[:5]))


@pytest.mark.slow
def test_peak_memory_stays_near_one_batch(tmp_path):
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [repo] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    out = subprocess.run([sys.executable, os.path.join(here, "streaming_rss_check.py"),
                          str(tmp_path)], capture_output=True, text=True, timeout=600, env=env,
                         cwd=repo)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    os.remove(tmp_path / "maps.npy")
    assert result["shape"] == [4096, 96, 96, 3]
    assert result["file_mib"] > 400  # holding the maps would exceed the limit
    assert result["equal"]
    assert result["growth_mib"] < 300, result
