"""Score-CAM and Layer-CAM against their formulas computed by hand on small CNNs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import vis
from vis.copies import weights_digest


@pytest.fixture(scope="module")
def cnn():
    """(10, 10, 2) -> conv1 (same, 4) -> conv (valid, 5) -> pool -> Dense(3) logits.

    Channel 3 of `conv` has a zero kernel and a positive bias (a constant, non-zero feature
    map), channel 4 a large negative bias (a dead, all-zero map): both give zero masks.
    Channel 2 is twice channel 1 (the same mask).
    """
    keras.utils.set_random_seed(11)
    inp = keras.Input((10, 10, 2))
    conv1 = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")
    conv = keras.layers.Conv2D(5, 3, activation="relu", name="conv")
    pool, flat = keras.layers.MaxPooling2D(2), keras.layers.Flatten()
    dense = keras.layers.Dense(3, name="out")
    model = keras.Model(inp, dense(flat(pool(conv(conv1(inp))))))
    k, b = conv.get_weights()
    k[..., 3], b[3], b[4] = 0.0, 0.3, -100.0
    k[..., 2], b[2] = 2 * k[..., 1], 2 * b[1]
    conv.set_weights([k, b])
    x = np.random.default_rng(11).normal(size=(3, 10, 10, 2)).astype("float32")
    return model, x, np.array([0, 2, 1]), (conv1, conv, pool, flat, dense)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def resize(maps, size):
    return tf.image.resize(np.asarray(maps, "float32")[..., None], size,
                           method="bilinear").numpy()[..., 0].astype("float64")


def scorecam_by_hand(model, x, t, keep=None, rank="mean"):
    acts = keras.Model(model.inputs[0], model.get_layer("conv").output)(x).numpy()
    cams = []
    for i in range(len(x)):
        a = acts[i].astype("float64")
        channels = list(range(a.shape[-1]))
        if keep is not None:
            stat = a.mean(axis=(0, 1)) if rank == "mean" else a.std(axis=(0, 1))
            channels = sorted(np.argsort(-stat, kind="stable")[:keep])
        masked = []
        for k in channels:
            up = resize(a[None, :, :, k], (10, 10))[0]
            lo, hi = up.min(), up.max()
            mask = np.zeros_like(up) if a[..., k].max() == a[..., k].min() else (
                (up - lo) / (hi - lo))
            masked.append(x[i] * mask[..., None])
        probs = softmax(model.predict(np.stack(masked).astype("float32"), verbose=0)
                        .astype("float64"))[:, t[i]]
        cams.append(np.maximum(np.einsum("hwk,k->hw", a[..., channels], probs), 0))
    return np.stack(cams)


@pytest.mark.parametrize("keep, rank", [(None, "mean"), (2, "mean"), (3, "std")])
def test_scorecam_equals_algorithm_1_by_hand(cnn, keep, rank):
    model, x, t, _ = cnn
    digest = weights_digest(model)
    want = scorecam_by_hand(model, x, t, keep, rank)
    options = dict(layer="conv", max_channels=keep, rank_by=rank)
    small = vis.explain(model, x, "scorecam", t, upsample=False, **options)
    assert small.shape == (3, 8, 8)
    np.testing.assert_allclose(small, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
    full = vis.explain(model, x, "score_cam", t, **options)
    up = resize(want, (10, 10))
    assert full.shape == (3, 10, 10)
    assert np.corrcoef(full.ravel(), up.ravel())[0, 1] > 0.999
    np.testing.assert_allclose(full, up, rtol=1e-5, atol=1e-6 * np.abs(up).max())
    assert weights_digest(model) == digest


def test_scorecam_default_layer_batching_and_errors(cnn, monkeypatch):
    from vis.methods import _perturb

    model, x, t, _ = cnn
    evaluated = []
    activations = _perturb.engine.activations
    monkeypatch.setattr(_perturb.engine, "activations", lambda m, z, *a, **kw: evaluated.append(
        len(z)) or activations(m, z, *a, **kw))
    a = vis.explain(model, x, "scorecam", t)  # the last conv layer: "conv"
    # the layer's activations; channels 0 and 1 of each image (2 shares 1's mask); then one
    # zero mask per image for channels 3 and 4
    assert evaluated == [3, 3 * 2, 3]
    monkeypatch.setattr(_perturb.engine, "activations", activations)
    np.testing.assert_allclose(a, vis.explain(model, x, "scorecam", t, layer="conv",
                                              batch_size=3), rtol=1e-5, atol=1e-6)
    for kwargs, error, match in [
        (dict(layer="out"), ValueError, r"`layer`: layer 'out' .*Score-CAM needs a spatial"),
        (dict(max_channels=0), ValueError, r"`max_channels`"),
        (dict(rank_by="var"), ValueError, r"`rank_by` must be one of \['mean', 'std'\]"),
        (dict(upsample="no"), TypeError, r"`upsample`"),
    ]:
        with pytest.raises(error, match=match):
            vis.explain(model, x, "scorecam", t, **kwargs)


def layercam_by_hand(x, t, feature, head):
    a = tf.constant(feature(x))
    with tf.GradientTape() as tape:
        tape.watch(a)
        score = tf.reduce_sum(tf.gather(head(a), t, axis=1, batch_dims=1))
    g = tape.gradient(score, a).numpy().astype("float64")
    return np.maximum((np.maximum(g, 0) * a.numpy()).sum(axis=-1), 0)


def test_layercam_equals_its_formula_at_one_layer_and_fused(cnn):
    model, x, t, (conv1, conv, pool, flat, dense) = cnn
    inp = model.inputs[0]
    deep = layercam_by_hand(x, t, keras.Model(inp, conv.output),
                            keras.Sequential([pool, flat, dense]))
    shallow = layercam_by_hand(x, t, keras.Model(inp, conv1.output),
                               keras.Sequential([conv, pool, flat, dense]))
    small = vis.explain(model, x, "layercam", t, upsample=False)  # default: the last conv
    np.testing.assert_allclose(small, deep, rtol=1e-5, atol=1e-6 * deep.max())
    full = vis.explain(model, x, "layer_cam", t, layer="conv")
    assert np.corrcoef(full.ravel(), resize(deep, (10, 10)).ravel())[0, 1] > 0.999
    np.testing.assert_allclose(vis.explain(model, x, "layercam", t, layer="conv1"), shallow,
                               rtol=1e-5, atol=1e-6 * shallow.max())
    scaled = [np.tanh(2.0 * m / m.max(axis=(1, 2), keepdims=True))
              for m in (shallow, resize(deep, (10, 10)))]
    fused = vis.explain(model, x, "layercam", t, layer=["conv1", "conv"])
    np.testing.assert_allclose(fused, np.maximum(*scaled), rtol=1e-5, atol=1e-6)
    for kwargs, match in [(dict(layer=[]), "empty list"), (dict(gamma=0), "`gamma`"),
                          (dict(layer=["conv1", "conv"], upsample=False), "one `layer`"),
                          (dict(layer="out"), "Layer-CAM needs a spatial")]:
        with pytest.raises(ValueError, match=match):
            vis.explain(model, x, "layercam", t, **kwargs)
