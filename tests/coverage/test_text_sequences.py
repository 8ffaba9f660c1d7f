"""Token models (Embedding + GRU), Conv1D / LSTM sequences, tabular and mixed precision."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import vis
from vis.copies import weights_digest
from vis.visualization import visualize_cam, visualize_saliency


@pytest.fixture(scope="module")
def text_model():
    keras.utils.set_random_seed(31)
    tokens = keras.Input((7,), dtype="int32", name="tokens")
    e = keras.layers.Embedding(20, 4, name="emb")(tokens)
    h = keras.layers.GRU(5, name="gru")(e)
    out = keras.layers.Dense(2, activation="softmax", name="out")(h)
    model = keras.Model(tokens, out)
    x = np.random.default_rng(31).integers(1, 20, size=(4, 7)).astype("int32")
    return model, x


def _text_logits(model, embedded):
    w, b = model.get_layer("out").get_weights()
    return tf.matmul(model.get_layer("gru")(embedded), w) + b


def test_token_gradient_is_taken_at_the_embedding_output(text_model):
    model, x = text_model
    t = np.array([0, 1, 1, 0])
    digest = weights_digest(model)
    raw = vis.explain(model, x, "gradient", t, keepdims=True)
    embedded = tf.constant(model.get_layer("emb")(x))
    with tf.GradientTape() as tape:
        tape.watch(embedded)
        score = tf.reduce_sum(tf.gather(_text_logits(model, embedded), t, batch_dims=1))
    want = tape.gradient(score, embedded).numpy()
    assert raw.shape == (4, 7, 4)
    np.testing.assert_allclose(raw, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
    per_token = vis.explain(model, x, "gradient", t)
    assert per_token.shape == (4, 7)
    np.testing.assert_allclose(per_token, np.abs(want).max(-1), rtol=1e-5, atol=1e-7)
    gxi = vis.explain(model, x, "gradient_x_input", t)
    np.testing.assert_allclose(gxi, (want * embedded.numpy()).sum(-1), rtol=1e-4, atol=1e-6)
    # the keras-vis function: max |g| over the embedding axis, one value per token
    np.testing.assert_allclose(visualize_saliency(model, -1, 0, x, normalize=False),
                               np.abs(vis.explain(model, x, "gradient", 0, keepdims=True)
                                      ).max(-1), rtol=1e-6)
    assert weights_digest(model) == digest


def test_token_integrated_gradients_is_complete_in_embedding_space(text_model):
    model, x = text_model
    t = np.array([1, 0, 1, 0])
    ig = vis.explain(model, x, "integrated_gradients", t, steps=128)
    assert ig.shape == (4, 7)
    embedded = model.get_layer("emb")(x)
    f = tf.gather(_text_logits(model, embedded), t, batch_dims=1).numpy()
    f0 = tf.gather(_text_logits(model, tf.zeros_like(embedded)), t, batch_dims=1).numpy()
    np.testing.assert_allclose(ig.sum(1), f - f0, rtol=0.02, atol=1e-3)
    pad = vis.explain(model, x, "ig", t, steps=128, baseline_token=0)
    f0 = tf.gather(_text_logits(model, model.get_layer("emb")(np.zeros_like(x))), t,
                   batch_dims=1).numpy()
    np.testing.assert_allclose(pad.sum(1), f - f0, rtol=0.02, atol=1e-3)


def test_conv1d_gradient_and_1d_gradcam_with_linear_upsampling():
    keras.utils.set_random_seed(32)
    series = keras.Input((12, 2))
    h = keras.layers.Conv1D(4, 3, activation="relu", name="conv")(series)
    out = keras.layers.Dense(3, name="out")(keras.layers.Flatten()(h))
    model = keras.Model(series, out)
    x = np.random.default_rng(32).normal(size=(3, 12, 2)).astype("float32")
    t = np.array([2, 0, 1])
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        score = tf.reduce_sum(tf.gather(model(xt), t, batch_dims=1))
    np.testing.assert_allclose(vis.explain(model, x, "gradient", t), tape.gradient(score, xt),
                               rtol=1e-5, atol=1e-7)
    a = tf.constant(keras.Model(series, h)(x))
    with tf.GradientTape() as tape:
        tape.watch(a)
        score = tf.reduce_sum(tf.gather(model.get_layer("out")(
            keras.layers.Flatten()(a)), t, batch_dims=1))
    g = tape.gradient(score, a).numpy()
    cam = np.maximum(np.einsum("ntk,nk->nt", a.numpy(), g.mean(axis=1)), 0)  # (3, 10)
    centres = (np.arange(12) + 0.5) * 10 / 12 - 0.5  # half-pixel centres, linear interpolation
    want = np.stack([np.interp(centres, np.arange(10), c) for c in cam])
    got = vis.explain(model, x, "gradcam", t)
    assert got.shape == (3, 12)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * want.max())
    np.testing.assert_allclose(visualize_cam(model, -1, 0, x, normalize=False),
                               vis.explain(model, x, "gradcam", 0), rtol=1e-6)


def test_lstm_sequences_and_tabular_models():
    keras.utils.set_random_seed(33)
    seq = keras.Input((6, 3))
    lstm = keras.Model(seq, keras.layers.Dense(2)(keras.layers.LSTM(4)(seq)))
    x = np.random.default_rng(33).normal(size=(2, 6, 3)).astype("float32")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        score = tf.reduce_sum(lstm(xt)[:, 1])
    np.testing.assert_allclose(vis.explain(lstm, x, "gradient", 1), tape.gradient(score, xt),
                               rtol=1e-5, atol=1e-7)
    ig = vis.explain(lstm, x, "ig", 1, steps=128)
    delta = lstm.predict(x, verbose=0)[:, 1] - lstm.predict(np.zeros_like(x), verbose=0)[:, 1]
    np.testing.assert_allclose(ig.reshape(2, -1).sum(1), delta, rtol=0.02, atol=1e-3)
    tab = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"),
                            keras.layers.Dense(1)])
    xs = np.random.default_rng(34).normal(size=(3, 5)).astype("float32")
    assert vis.explain(tab, xs, "gradient_x_input", 0).shape == (3, 5)


def test_mixed_float16_guided_backprop_matches_its_float32_twin():
    def build():
        keras.utils.set_random_seed(35)
        inp = keras.Input((8, 8, 1))
        h = keras.layers.Conv2D(6, 3, activation="relu")(inp)
        h = keras.layers.Conv2D(6, 3, activation="relu")(h)
        h = keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(h))
        out = keras.layers.Dense(3, activation="softmax", dtype="float32")(h)
        return keras.Model(inp, out)

    twin = build()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        mixed = build()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    mixed.set_weights(twin.get_weights())
    assert mixed.layers[1].compute_dtype == "float16"
    x = np.random.default_rng(35).uniform(size=(4, 8, 8, 1)).astype("float32")
    for method, tolerance in (("guided_backprop", 0.02), ("gradient", 0.05),
                              ("integrated_gradients", 0.05)):
        a = vis.explain(mixed, x, method, 1)
        b = vis.explain(twin, x, method, 1)
        assert a.dtype == np.float32
        assert np.linalg.norm(a - b) <= tolerance * np.linalg.norm(b), method
    cam = vis.explain(mixed, x, "gradcam", 1)
    assert cam.dtype == np.float32 and np.all(np.isfinite(cam))
