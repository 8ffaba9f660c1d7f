"""Validation statistics: NumPy agreement, arrays vs datasets, dead filters, strategies, I/O."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from pss_testing import conv_variants_model, random_data

from vis.pss import ParameterSaliency


@pytest.fixture(scope="module", autouse=True)
def distributed_run():
    """Starts `pss_distributed_check.py` in a fresh process (two logical CPU devices must be
    configured before TensorFlow starts); it runs while the other tests of this module do."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, os.path.join(here, "pss_distributed_check.py")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate()


@pytest.fixture(scope="module")
def setup():
    model = conv_variants_model("2d")
    x, y = random_data((9, 9, 2), 70, seed=8)
    return model, ParameterSaliency(model), x, y


def test_statistics_equal_numpy_on_stored_per_sample_saliency(setup):
    _, psal, x, y = setup
    stored = psal.filter_saliency(x, y).astype(np.float64)
    psal.fit(x, y, batch_size=16, verbose=False)
    assert psal.n_samples_ == len(x)
    np.testing.assert_allclose(psal.mean_, stored.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(psal.std_, stored.std(axis=0, ddof=1), rtol=1e-10)
    assert psal.mean_.dtype == np.float64 and psal.std_.dtype == np.float64


def test_profile_is_the_signed_standardized_saliency(setup):
    _, psal, x, y = setup
    psal.fit(x, y, batch_size=32, verbose=False)
    stored = psal.filter_saliency(x[:5], y[:5]).astype(np.float64)
    profile = psal.profile(x[:5], y[:5])
    np.testing.assert_allclose(profile, (stored - psal.mean_) / psal.std_, rtol=1e-9, atol=1e-12)
    assert (profile < 0).any() and (profile > 0).any()
    top = psal.top_filters(x[:5], y[:5], k=4)
    np.testing.assert_array_equal(top, np.argsort(-profile, axis=1, kind="stable")[:, :4])
    rows = np.arange(5)[:, None]
    assert np.all(np.diff(profile[rows, top], axis=1) <= 0)


def test_arrays_and_datasets_give_identical_statistics(setup):
    _, psal, x, y = setup
    psal.fit(x, y, batch_size=16, verbose=False)
    from_arrays = (psal.mean_, psal.std_, psal.n_samples_)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    psal.fit(dataset, batch_size=16, verbose=True)  # progress bar on
    np.testing.assert_array_equal(psal.mean_, from_arrays[0])
    np.testing.assert_array_equal(psal.std_, from_arrays[1])
    assert psal.n_samples_ == from_arrays[2]
    # Other batch boundaries (dataset batches of 25 split into 16 + 9): same to float32 round-off.
    psal.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(25), batch_size=16, verbose=False)
    np.testing.assert_allclose(psal.mean_, from_arrays[0], rtol=1e-6)
    np.testing.assert_allclose(psal.std_, from_arrays[1], rtol=1e-6)


def test_dead_filter_gives_finite_profiles():
    model = conv_variants_model("2d")
    conv = model.layers[1]
    kernel, bias = conv.kernel.numpy(), conv.bias.numpy()
    kernel[..., 0], bias[0] = 0.0, -5.0  # relu(-5) = 0 everywhere: no gradient reaches it
    conv.kernel.assign(kernel)
    conv.bias.assign(bias)
    x, y = random_data((9, 9, 2), 20, seed=9)
    psal = ParameterSaliency(model).fit(x, y, verbose=False)
    dead = psal.filters.index((conv.name, 0))
    assert psal.std_[dead] == 0.0 and psal.mean_[dead] == 0.0
    assert psal.scale_[dead] == 1.0
    np.testing.assert_array_equal(psal.scale_[psal.std_ > 1e-14], psal.std_[psal.std_ > 1e-14])
    profile = psal.profile(x[:4], y[:4])
    assert np.all(np.isfinite(profile)) and np.all(profile[:, dead] == 0.0)


def test_fit_needs_two_samples_and_valid_datasets(setup):
    _, psal, x, y = setup
    with pytest.raises(ValueError, match="at least 2 validation samples"):
        psal.fit(x[:1], y[:1], verbose=False)
    with pytest.raises(ValueError, match="batch it first"):
        psal.fit(tf.data.Dataset.from_tensor_slices((x, y)), verbose=False)
    with pytest.raises(ValueError, match="`y` must be None"):
        psal.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(4), y, verbose=False)
    with pytest.raises(ValueError, match=r"yield `\(images, labels\)` pairs"):
        psal.fit(tf.data.Dataset.from_tensor_slices(x).batch(4), verbose=False)
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        psal.fit(x, y, batch_size=0, verbose=False)


def test_save_load_round_trip(setup, tmp_path):
    model, psal, x, y = setup
    psal.fit(x, y, verbose=False)
    path = tmp_path / "stats.npz"
    psal.save(path)
    loaded = ParameterSaliency(model).load(path)
    np.testing.assert_array_equal(loaded.mean_, psal.mean_)
    np.testing.assert_array_equal(loaded.std_, psal.std_)
    assert loaded.n_samples_ == psal.n_samples_
    np.testing.assert_array_equal(loaded.profile(x[:3], y[:3]), psal.profile(x[:3], y[:3]))
    with np.load(path) as data:
        assert data["layer"][0] == psal.filters[0][0] and data["index"][-1] == psal.filters[-1][1]
    other = ParameterSaliency(model, layers=[model.layers[1].name])
    with pytest.raises(ValueError, match="describe 9 filter columns"):
        other.load(path)


def test_unfitted_object_says_what_to_call(setup):
    model, _, x, y = setup
    psal = ParameterSaliency(model)
    for call in (lambda: psal.profile(x, y), lambda: psal.top_filters(x, y),
                 lambda: psal.input_saliency(x, y), lambda: psal.save("unused.npz")):
        with pytest.raises(ValueError, match=r"call `fit\(x_val, y_val\)` or `load\(path\)`"):
            call()


@pytest.mark.slow
def test_fit_under_a_mirrored_strategy_of_two_cpus_matches(distributed_run):
    stdout, stderr = distributed_run.communicate(timeout=180)
    assert distributed_run.returncode == 0, stderr[-3000:]
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["shares"] == [8, 8]  # both replicas computed their half of a batch
    plain = result["plain"]
    for other in (result["explicit"], result["scoped"]):
        assert other[2] == plain[2] == 48
        np.testing.assert_allclose(other[0], plain[0], rtol=1e-6)
        np.testing.assert_allclose(other[1], plain[1], rtol=1e-6)


def test_keras_model_without_fit_on_subclassed_models_is_clear():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3, name="conv")
            self.flat = keras.layers.Flatten()
            self.out = keras.layers.Dense(3)

        def call(self, inputs):
            return self.out(self.flat(self.conv(inputs)))

    net = Net()
    net(np.zeros((1, 6, 6, 1), "float32"))
    with pytest.raises(ValueError, match="Wrap a subclassed model"):
        ParameterSaliency(net)
    inputs = keras.Input((6, 6, 1))
    wrapped = keras.Model(inputs, net(inputs))
    with pytest.raises(ValueError, match="cannot inspect the output"):
        ParameterSaliency(wrapped)
    psal = ParameterSaliency(wrapped, loss="logits")
    assert psal.method == "vmap" and psal.filters[0][0].endswith("/conv")
    x, y = random_data((6, 6, 1), 4, seed=10)
    with tf.GradientTape() as tape:
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(y[:1], net(x[:1]))
    expected = np.abs(tape.gradient(loss, net.conv.kernel).numpy()).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(psal.filter_saliency(x[:1], y[:1])[0], expected, rtol=1e-5)
