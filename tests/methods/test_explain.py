"""`vis.explain`: numbers against hand-written NumPy / tape references, targets, options, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_weights_equal, weights_of
from helpers_models import dense_linear, small_convnet_gradient_np, small_relu_convnet

import vis
from vis.copies import weights_digest
from vis.errors import ZeroMapWarning


@pytest.fixture
def convnet():
    model, K, bk, V, bv = small_relu_convnet("fused", seed=5)
    x = np.random.default_rng(5).normal(size=(4, 6, 6, 1)).astype("float32")
    return model, x, (K, bk, V, bv)


@pytest.mark.parametrize("method, mode", [("gradient", "vanilla"), ("guided_backprop", "guided"),
                                          ("deconvnet", "deconv"), ("guided", "guided"),
                                          ("deconv", "deconv")])
def test_backprop_methods_equal_numpy(convnet, method, mode):
    model, x, (K, bk, V, _) = convnet
    targets = np.array([0, 1, 1, 0])
    got = vis.explain(model, x, method, targets)
    want = np.stack([small_convnet_gradient_np(x[i], K, bk, V, t, mode)
                     for i, t in enumerate(targets)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())


def test_gradient_x_input_and_linear_closed_forms():
    model, W, b = dense_linear(n_in=5, n_out=3, softmax=True, seed=2)
    x = np.random.default_rng(2).normal(size=(6, 5)).astype("float32")
    t = np.array([0, 1, 2, 0, 1, 2])
    # softmax outputs are explained on their logits: d logit_t / dx = W[:, t]
    np.testing.assert_allclose(vis.explain(model, x, "gradient", t), W[:, t].T, rtol=1e-5)
    np.testing.assert_allclose(vis.explain(model, x, "gradient_x_input", t), x * W[:, t].T,
                               rtol=1e-5)


def test_integrated_gradients_completeness_and_linear_exactness():
    model, W, _ = dense_linear(n_in=5, n_out=3, seed=3)
    x = np.random.default_rng(3).normal(size=(4, 5)).astype("float32")
    ig = vis.explain(model, x, "integrated_gradients", 2, steps=8)
    np.testing.assert_allclose(ig, x * W[:, 2], rtol=1e-5)  # exact for a linear model
    keras.utils.set_random_seed(3)
    inp = keras.Input((5,))
    h = keras.layers.Dense(16, activation="tanh")(inp)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(8, activation="elu")(h))
    net = keras.Model(inp, out)
    ig = vis.explain(net, x, "ig", 1, steps=256)
    logits = keras.Model(inp, net.layers[-1].input)  # independent pre-softmax reference
    w_last, b_last = net.layers[-1].get_weights()
    f = logits.predict(x, verbose=0) @ w_last[:, 1] + b_last[1]
    f0 = logits.predict(np.zeros_like(x), verbose=0) @ w_last[:, 1] + b_last[1]
    np.testing.assert_allclose(ig.sum(axis=1), f - f0, rtol=0.02, atol=1e-4)


def test_gradcam_at_a_named_layer_equals_a_tape_reference(convnet):
    model, x, _ = convnet
    t = np.array([1, 0, 1, 1])
    cams = vis.explain(model, x, "gradcam", t, layer="conv")
    feature = keras.Model(model.inputs[0], model.get_layer("conv").output)
    head = keras.Sequential([model.layers[-2], model.layers[-1]])  # Flatten, Dense (shared)
    a = tf.constant(feature(x))
    with tf.GradientTape() as tape:
        tape.watch(a)
        score = tf.reduce_sum(tf.gather(head(a), t, axis=1, batch_dims=1))
    g = tape.gradient(score, a).numpy()
    w = g.mean(axis=(1, 2))
    ref = np.maximum(np.einsum("nijk,nk->nij", a.numpy(), w), 0)
    ref = tf.image.resize(ref[..., None], (6, 6), method="bilinear").numpy()[..., 0]
    assert cams.shape == (4, 6, 6)
    np.testing.assert_allclose(cams, ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max())


def test_targets_none_explains_the_predicted_class(convnet):
    model, x, _ = convnet
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    np.testing.assert_array_equal(vis.explain(model, x), vis.explain(model, x, "gradient",
                                                                     predicted))
    assert not np.array_equal(predicted, 1 - predicted)  # both classes differ: the test can fail
    np.testing.assert_array_equal(vis.explain(model, x, targets=1),
                                  vis.explain(model, x, targets=[1, 1, 1, 1]))


def test_one_sample_in_one_map_out_and_batch_invariance(convnet):
    model, x, _ = convnet
    batch = vis.explain(model, x, "integrated_gradients", 1, steps=16)
    one = vis.explain(model, x[2], "integrated_gradients", 1, steps=16)
    assert one.shape == x.shape[1:]
    np.testing.assert_allclose(one, batch[2], rtol=1e-5, atol=1e-7)
    chunked = vis.explain(model, x, "integrated_gradients", 1, steps=16, batch_size=5)
    np.testing.assert_allclose(chunked, batch, rtol=1e-5, atol=1e-7)


def test_output_names_an_intermediate_layer():
    model, W1, b1, W2, b2 = __import__("helpers_models").dense_relu(seed=4)
    x = np.random.default_rng(4).normal(size=(3, 6)).astype("float32")
    got = vis.explain(model, x, "gradient", 2, output="hidden")
    active = (x @ W1 + b1)[:, 2] > 0
    np.testing.assert_allclose(got, np.where(active[:, None], W1[:, 2], 0.0), rtol=1e-6)


def test_registered_callable_flows_through_explain_and_sanity(convnet):
    from vis import methods
    from vis.sanity import model_randomization_test

    model, x, _ = convnet

    def doubled(model, inputs, targets, *, batch_size=None):
        """Twice the gradient."""
        return 2 * methods.get("gradient")(model, inputs, targets, batch_size=batch_size)

    methods.register("doubled_gradient", doubled, family="gradient")
    try:
        t = np.array([0, 1, 0, 1])
        np.testing.assert_allclose(vis.explain(model, x, "doubled_gradient", t),
                                   2 * vis.explain(model, x, "gradient", t), rtol=1e-6)
        assert "doubled_gradient" in [row["name"] for row in methods.table()]
        result = model_randomization_test(model, x, t, "doubled_gradient", verbose=False,
                                          metrics=("spearman",))
        reference = model_randomization_test(model, x, t, "gradient", verbose=False,
                                             metrics=("spearman",))
        np.testing.assert_allclose(result.scores["spearman"], reference.scores["spearman"])
        # a plain callable works without registering
        np.testing.assert_allclose(vis.explain(model, x, doubled, t),
                                   2 * vis.explain(model, x, "gradient", t), rtol=1e-6)
    finally:
        methods.unregister("doubled_gradient")
    with pytest.raises(ValueError, match="doubled_gradient"):
        vis.explain(model, x, "doubled_gradient")


def test_errors_name_the_parameter(convnet):
    model, x, _ = convnet
    cases = [
        (dict(method="nope"), ValueError, r"method 'nope'.*Valid names.*guided_backprop"),
        (dict(method=3), TypeError, r"`method`"),
        (dict(targets=5), ValueError, r"`targets` index 5 is out of range.*2 units"),
        (dict(targets=[0, 1]), ValueError, r"`targets` has 2 entries but the input has 4"),
        (dict(targets=True), TypeError, r"`targets`"),
        (dict(targets=[0.5, 1, 1, 1]), TypeError, r"`targets`"),
        (dict(targets=np.eye(2, dtype=int)[[0, 1, 0, 1]]), ValueError, r"one class index"),
        (dict(method="integrated_gradients", stepz=3), TypeError, r"option `stepz`.*steps"),
        (dict(method="gradient", steps=3), TypeError, r"'gradient' does not take .*`steps`"),
        (dict(method="patternnet"), ValueError, r"needs `patterns=`.*fit_patterns"),
        (dict(smooth={"samples": 0}), ValueError, r"smooth\['samples'\]"),
        (dict(smooth={"nois": 0.1}), ValueError, r"unknown keys \['nois'\]"),
        (dict(smooth="yes"), TypeError, r"`smooth`"),
        (dict(batch_size=0), ValueError, r"`batch_size`"),
        (dict(output="nope"), ValueError, r"`output`='nope'"),
        (dict(method="gradcam", layer="nope"), ValueError, r"`layer`='nope'"),
    ]
    before, digest = weights_of(model), weights_digest(model)
    for kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            vis.explain(model, x, **kwargs)
    with pytest.raises(ValueError, match="`inputs` has shape"):
        vis.explain(model, x[..., 0])
    with pytest.raises(ValueError, match="NaN"):
        vis.explain(model, np.full_like(x, np.nan))
    assert_weights_equal(model, before)
    assert weights_digest(model) == digest


def test_the_user_model_is_untouched(convnet):
    model, x, _ = convnet
    layers = {layer.name: (layer.call, getattr(layer, "activation", None)) for layer in model.layers}
    digest = weights_digest(model)
    out = model.predict(x, verbose=0)
    for name in vis.methods.names():
        method = vis.methods.get(name)
        options = method.fit(model, x) if method.fit else {}
        vis.explain(model, x, name, 1, **options)
    assert weights_digest(model) == digest
    np.testing.assert_array_equal(model.predict(x, verbose=0), out)
    for layer in model.layers:
        call, activation = layers[layer.name]
        assert layer.call == call and getattr(layer, "activation", None) is activation


def test_zero_maps_warn_naming_the_method():
    inp = keras.Input((3,))
    layer = keras.layers.Dense(2, activation="relu", name="hidden")
    out = keras.layers.Dense(1, name="out")(layer(inp))
    model = keras.Model(inp, out)
    layer.set_weights([-np.ones((3, 2), "float32"), -np.ones(2, "float32")])  # never fires
    with pytest.warns(ZeroMapWarning, match=r"'gradient'.*sample\(s\) \[0, 1\]"):
        maps = vis.explain(model, np.ones((2, 3), "float32"), "gradient", 0)
    assert np.all(maps == 0)
