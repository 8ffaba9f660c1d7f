"""Two-input / two-output models: every input's map equals the tape gradient; IG completeness."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import vis
from vis.copies import weights_digest
from vis.losses import per_sample
from vis.visualization import (
    visualize_gradient_x_input,
    visualize_integrated_gradients,
    visualize_saliency,
    visualize_smoothgrad,
)


@pytest.fixture(scope="module")
def two_by_two():
    """image (6, 6, 1) + tabular (3,) -> a softmax class head and a regression head."""
    keras.utils.set_random_seed(21)
    image = keras.Input((6, 6, 1), name="image")
    meta = keras.Input((3,), name="meta")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(image)
    h = keras.layers.Flatten()(h)
    m = keras.layers.Dense(5, activation="tanh", name="meta_dense")(meta)
    z = keras.layers.Concatenate()([h, m])
    z = keras.layers.Dense(8, activation="relu", name="joint")(z)
    cls = keras.layers.Dense(4, activation="softmax", name="cls")(z)
    reg = keras.layers.Dense(1, name="reg")(z)
    model = keras.Model([image, meta], [cls, reg])
    rng = np.random.default_rng(21)
    x = [rng.uniform(size=(5, 6, 6, 1)).astype("float32"),
         rng.normal(size=(5, 3)).astype("float32")]
    return model, x


def _tape_gradients(model, x, score_fn):
    xs = [tf.constant(a) for a in x]
    with tf.GradientTape() as tape:
        tape.watch(xs)
        score = tf.reduce_sum(score_fn(xs))
    return [g.numpy() for g in tape.gradient(score, xs)]


def _logits(model, xs):
    """The class head's pre-softmax logits, computed independently of vis."""
    joint = keras.Model(model.inputs, model.get_layer("joint").output)
    w, b = model.get_layer("cls").get_weights()
    return tf.matmul(joint(xs), w) + b


def test_each_input_gets_the_tape_gradient(two_by_two):
    model, x = two_by_two
    t = np.array([0, 1, 2, 3, 1])
    digest = weights_digest(model)
    got = vis.explain(model, x, "gradient", t, output="cls")
    assert isinstance(got, list) and [g.shape for g in got] == [a.shape for a in x]
    want = _tape_gradients(model, x, lambda xs: tf.gather(_logits(model, xs), t, batch_dims=1))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6 * np.abs(w).max())
    reg = vis.explain(model, x, "gradient", 0, output="reg")
    want = _tape_gradients(model, x, lambda xs: model(xs)[1][:, 0])
    for g, w in zip(reg, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6 * np.abs(w).max())
    # dict and tuple inputs come back in the same structure
    as_dict = vis.explain(model, {"meta": x[1], "image": x[0]}, "gradient", t, output="cls")
    assert set(as_dict) == {"image", "meta"}
    np.testing.assert_allclose(as_dict["meta"], got[1], rtol=1e-6)
    assert isinstance(vis.explain(model, tuple(x), "gradient", t, output="cls"), tuple)
    one = vis.explain(model, [x[0][2], x[1][2]], "gradient", 2, output="cls")
    np.testing.assert_allclose(one[0], vis.explain(model, x, "gradient", 2, output="cls")[0][2],
                               rtol=1e-5, atol=1e-7)
    assert weights_digest(model) == digest


def test_integrated_gradients_is_complete_over_all_inputs(two_by_two):
    model, x = two_by_two
    t = np.array([3, 2, 1, 0, 0])
    ig = vis.explain(model, x, "integrated_gradients", t, output="cls", steps=128,
                     baseline={"image": 0.0, "meta": np.full(3, 0.5, "float32")})
    total = ig[0].reshape(5, -1).sum(1) + ig[1].sum(1)
    base = [np.zeros_like(x[0]), np.full_like(x[1], 0.5)]
    f = tf.gather(_logits(model, [tf.constant(a) for a in x]), t, batch_dims=1).numpy()
    f0 = tf.gather(_logits(model, [tf.constant(a) for a in base]), t, batch_dims=1).numpy()
    np.testing.assert_allclose(total, f - f0, rtol=0.02, atol=1e-3)
    assert np.abs(f - f0).min() > 1e-3  # the test can fail
    reg = vis.explain(model, x, "ig", 0, output="reg", steps=128)
    f = model.predict(x, verbose=0)[1][:, 0]
    f0 = model.predict([np.zeros_like(a) for a in x], verbose=0)[1][:, 0]
    np.testing.assert_allclose(reg[0].reshape(5, -1).sum(1) + reg[1].sum(1), f - f0,
                               rtol=0.02, atol=1e-3)


def test_smooth_perturbs_each_input_with_its_own_range(two_by_two):
    model, x = two_by_two
    settings = {"samples": 4, "noise": 0.1, "seed": 3}
    got = vis.explain(model, x, "gradient", 1, output="cls", smooth=settings)
    rng = np.random.default_rng(3)
    draws = [rng.standard_normal((4,) + a.shape[1:]) for a in x]
    for i in (0, 4):
        noisy = []
        for a, d in zip(x, draws):
            sigma = 0.1 * (a[i].max() - a[i].min())
            noisy.append((a[i] + (d * sigma).astype("float32")).astype("float32"))
        maps = vis.explain(model, noisy, "gradient", 1, output="cls")
        for k in range(2):
            np.testing.assert_allclose(got[k][i], maps[k].mean(0), rtol=1e-5, atol=1e-7)


def test_keras_vis_functions_take_lists(two_by_two):
    model, x = two_by_two
    t = per_sample(np.array([0, 1, 2, 3, 1]))
    raw = dict(grad_modifier=None, keepdims=True, normalize=False)
    sal = visualize_saliency(model, "cls", t, x, **raw)
    ref = vis.explain(model, x, "gradient", t.indices, output="cls")
    for a, b in zip(sal, ref):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    shown = visualize_saliency(model, "cls", t, x)
    assert shown[0].shape == (5, 6, 6) and shown[1].shape == (5, 3)
    assert all(m.min() >= 0 and m.max() <= 1 for m in shown)
    gxi = visualize_gradient_x_input(model, "cls", t, x, **raw)
    np.testing.assert_allclose(gxi[1], x[1] * ref[1], rtol=1e-6)
    ig = visualize_integrated_gradients(model, "cls", t, x, steps=8, **raw)
    assert [m.shape for m in ig] == [a.shape for a in x]
    sg = visualize_smoothgrad(model, "cls", t, x, samples=3, seed=0, **raw)
    np.testing.assert_allclose(sg[1], vis.explain(model, x, "smoothgrad", t.indices,
                                                  output="cls", samples=3, seed=0)[1], rtol=1e-6)
    # regression head, keras-vis style: what decreases it
    dec = visualize_saliency(model, "reg", 0, x, grad_modifier="negate", keepdims=True,
                             normalize=False)
    inc = visualize_saliency(model, "reg", 0, x, grad_modifier=None, keepdims=True,
                             normalize=False)
    np.testing.assert_allclose(dec[1], -inc[1], rtol=1e-6)


def test_input_structure_errors(two_by_two):
    model, x = two_by_two
    with pytest.raises(ValueError, match="2 inputs.*list, a tuple or a dict"):
        vis.explain(model, x[0], output="cls")
    with pytest.raises(ValueError, match="has 1 entries but the model has 2 inputs"):
        vis.explain(model, [x[0]], output="cls")
    with pytest.raises(ValueError, match=r"missing \['meta'\]"):
        vis.explain(model, {"image": x[0]}, output="cls")
    with pytest.raises(ValueError, match="different batch sizes"):
        vis.explain(model, [x[0], x[1][:2]], output="cls")
    with pytest.raises(ValueError, match=r"`inputs\[1\]` has shape"):
        vis.explain(model, [x[0], x[1][:, :2]], output="cls")
    with pytest.raises(ValueError, match="one entry per input"):
        vis.explain(model, x, "ig", 0, output="cls", baseline=np.zeros(3))
