"""visualize_saliency: exact against closed-form gradients, keras-vis semantics, never mutating."""

import keras
import numpy as np
import pytest
from conftest import assert_weights_equal, weights_of
from helpers_models import (
    conv_valid_backward_np,
    dense_linear,
    dense_relu,
    small_convnet_gradient_np,
    small_relu_convnet,
)

from vis.losses import per_sample
from vis.visualization import ZeroMapWarning, visualize_saliency

RAW = dict(grad_modifier=None, normalize=False, keepdims=True)


def test_linear_model_gradient_is_the_weight_column_per_sample():
    model, W, _ = dense_linear()
    x = np.random.default_rng(1).normal(size=(7, 5)).astype("float32")
    g = visualize_saliency(model, -1, 2, x, **RAW)
    np.testing.assert_allclose(g, np.tile(W[:, 2], (7, 1)), rtol=1e-6)  # not divided by N
    g = visualize_saliency(model, "out", [0, 2], x, **RAW)  # several indices are summed
    np.testing.assert_allclose(g, np.tile(W[:, 0] + W[:, 2], (7, 1)), rtol=1e-6)


def test_single_sample_has_no_batch_axis():
    model, W, _ = dense_linear()
    x = np.arange(5, dtype="float32")
    g = visualize_saliency(model, -1, 1, x, **RAW)
    assert g.shape == (5,)
    np.testing.assert_allclose(g, W[:, 1], rtol=1e-6)


def test_softmax_output_is_explained_on_its_logits():
    soft, W, b = dense_linear(softmax=True)
    x = np.random.default_rng(2).normal(size=(4, 5)).astype("float32")
    g = visualize_saliency(soft, -1, 0, x, **RAW)
    np.testing.assert_allclose(g, np.tile(W[:, 0], (4, 1)), rtol=1e-6)


def test_separate_softmax_layer_is_explained_on_its_input():
    inp = keras.Input((5,))
    logits = keras.layers.Dense(3, name="logits")(inp)
    probs = keras.layers.Softmax(name="probs")(logits)
    model = keras.Model(inp, probs)
    W = model.get_layer("logits").get_weights()[0]
    x = np.ones((2, 5), "float32")
    np.testing.assert_allclose(visualize_saliency(model, "probs", 1, x, **RAW),
                               np.tile(W[:, 1], (2, 1)), rtol=1e-6)


def test_relu_network_matches_numpy():
    model, W1, b1, W2, _ = dense_relu()
    x = np.random.default_rng(3).normal(size=(9, 6)).astype("float32")
    g = visualize_saliency(model, -1, 1, x, **RAW)
    z = x @ W1 + b1
    expected = ((z > 0) * W2[:, 1]) @ W1.T
    np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-6)


def test_per_sample_targets():
    model, W, _ = dense_linear()
    x = np.zeros((3, 5), "float32")
    g = visualize_saliency(model, -1, per_sample([2, 0, 1]), x, **RAW)
    np.testing.assert_allclose(g, W[:, [2, 0, 1]].T, rtol=1e-6)


def test_conv_filter_score_is_the_spatial_mean():
    model, K, bk, _, _ = small_relu_convnet("none")
    x = np.random.default_rng(4).normal(size=(2, 6, 6, 1)).astype("float32")
    g = visualize_saliency(model, "conv", 1, x, **RAW)
    for i in range(2):
        z = np.zeros((4, 4, 3))
        from helpers_models import conv_valid_np

        z = conv_valid_np(x[i].astype("float64"), K.astype("float64")) + bk
        g_z = np.zeros_like(z)
        g_z[..., 1] = (1 - np.tanh(z[..., 1]) ** 2) / 16.0
        np.testing.assert_allclose(g[i], conv_valid_backward_np(g_z, K, x[i].shape), rtol=1e-4,
                                   atol=1e-6)


@pytest.mark.parametrize("kind", ["fused", "layer", "activation", "relu6"])
@pytest.mark.parametrize("mode", ["vanilla", "guided", "deconv"])
def test_guided_and_deconv_match_hand_computed_backward(kind, mode):
    model, K, bk, V, _ = small_relu_convnet(kind, seed=5)
    x = np.random.default_rng(5).normal(size=(3, 6, 6, 1)).astype("float32") * 3
    modifier = {"vanilla": None, "guided": "guided", "deconv": "relu"}[mode]
    g = visualize_saliency(model, -1, 1, x, backprop_modifier=modifier, **RAW)
    for i in range(3):
        ref = small_convnet_gradient_np(x[i], K, bk, V, 1, mode, relu6=kind == "relu6")
        np.testing.assert_allclose(g[i], ref, rtol=1e-4, atol=1e-5)


def test_modifiers_change_nothing_without_relu_and_say_so():
    model, *_ = small_relu_convnet("none")
    x = np.random.default_rng(6).normal(size=(2, 6, 6, 1)).astype("float32")
    vanilla = visualize_saliency(model, -1, 0, x, **RAW)
    for modifier in ("guided", "deconv"):
        with pytest.warns(UserWarning, match="changes nothing"):
            g = visualize_saliency(model, -1, 0, x, backprop_modifier=modifier, **RAW)
        np.testing.assert_allclose(g, vanilla, rtol=1e-6)


def test_modifiers_reach_relus_inside_nested_models():
    inner, K, bk, V, _ = small_relu_convnet("layer", seed=7)
    inner = keras.Model(inner.inputs, inner.outputs, name="base")
    inp = keras.Input((6, 6, 1))
    outer = keras.Model(inp, keras.layers.Activation("linear", name="head")(inner(inp)))
    x = np.random.default_rng(7).normal(size=(2, 6, 6, 1)).astype("float32") * 2
    g = visualize_saliency(outer, -1, 0, x, backprop_modifier="guided", **RAW)
    for i in range(2):
        np.testing.assert_allclose(g[i], small_convnet_gradient_np(x[i], K, bk, V, 0, "guided"),
                                   rtol=1e-4, atol=1e-5)
    # a nested path reaches a layer inside the sub-model
    g_conv = visualize_saliency(outer, "base/conv", 0, x, **RAW)
    g_ref = visualize_saliency(inner, "conv", 0, x, **RAW)
    np.testing.assert_allclose(g_conv, g_ref, rtol=1e-6)


def test_grad_modifiers_keepdims_and_normalize():
    model, *_ = small_relu_convnet("fused", seed=8)
    x = np.random.default_rng(8).normal(size=(2, 6, 6, 1)).astype("float32")
    raw = visualize_saliency(model, -1, 0, x, **RAW)
    neg = visualize_saliency(model, -1, 0, x, grad_modifier="negate", normalize=False, keepdims=True)
    np.testing.assert_allclose(neg, -raw)
    default = visualize_saliency(model, -1, 0, x)
    a = np.abs(raw)[..., 0]
    lo = a.min(axis=(1, 2), keepdims=True)
    hi = a.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(default, (a - lo) / (hi - lo), rtol=1e-5, atol=1e-6)
    assert default.shape == (2, 6, 6)


def test_constant_map_normalizes_to_zero_with_warning():
    inp = keras.Input((4,))
    h = keras.layers.Dense(2, activation="relu", name="dead", bias_initializer="zeros",
                           kernel_initializer="zeros")(inp)
    model = keras.Model(inp, keras.layers.Dense(1, name="out")(h))
    with pytest.warns(ZeroMapWarning):
        g = visualize_saliency(model, -1, 0, np.ones((2, 4), "float32"))
    assert np.all(g == 0) and not np.any(np.isnan(g))


def test_wrt_intermediate_layer():
    model, W1, b1, W2, _ = dense_relu()
    x = np.random.default_rng(9).normal(size=(3, 6)).astype("float32")
    g = visualize_saliency(model, -1, 2, x, wrt_tensor="hidden", **RAW)
    np.testing.assert_allclose(g, np.tile(W2[:, 2], (3, 1)), rtol=1e-6)
    g2 = visualize_saliency(model, -1, 2, x, wrt_tensor=model.get_layer("hidden").output, **RAW)
    np.testing.assert_allclose(g2, g)


def test_layer_identifiers_are_equivalent():
    model, *_ = dense_relu()
    x = np.ones((1, 6), "float32")
    ref = visualize_saliency(model, -1, 0, x, **RAW)
    for ident in (1, "out", model.layers[-1]):
        np.testing.assert_allclose(visualize_saliency(model, ident, 0, x, **RAW), ref)


def test_channels_first_input():
    inp = keras.Input((2, 5, 5))
    h = keras.layers.Conv2D(3, 3, data_format="channels_first", name="conv")(inp)
    h = keras.layers.GlobalAveragePooling2D(data_format="channels_first")(h)
    model = keras.Model(inp, keras.layers.Dense(2, name="out")(h))
    x = np.random.default_rng(10).normal(size=(2, 2, 5, 5)).astype("float32")
    g = visualize_saliency(model, -1, 1, x, **RAW)
    K, _ = model.get_layer("conv").get_weights()
    W, _ = model.get_layer("out").get_weights()
    g_z = np.broadcast_to(W[:, 1] / 9.0, (3, 3, 3))  # GAP over 3x3 outputs
    ref = conv_valid_backward_np(g_z, K.astype("float64"), (5, 5, 2))
    np.testing.assert_allclose(g[0], np.moveaxis(ref, -1, 0), rtol=1e-5, atol=1e-6)
    assert visualize_saliency(model, -1, 1, x).shape == (2, 5, 5)  # channel max on axis 1


def test_never_mutates_the_model_even_when_raising():
    model, *_ = small_relu_convnet("layer", seed=11)
    x = np.random.default_rng(11).normal(size=(2, 6, 6, 1)).astype("float32")
    before = weights_of(model)
    out_before = model.predict(x, verbose=0)
    from vis.utils.model import iter_layers

    layers_before = [(layer, dict(vars(layer)).get("call"), getattr(layer, "activation", None))
                     for _, layer in iter_layers(model)]
    for modifier in (None, "guided", "relu"):
        visualize_saliency(model, -1, 0, x, backprop_modifier=modifier)
        with pytest.raises(ValueError):
            visualize_saliency(model, -1, 5, x, backprop_modifier=modifier)
    assert_weights_equal(model, before)
    np.testing.assert_array_equal(model.predict(x, verbose=0), out_before)
    for layer, call, act in layers_before:
        assert dict(vars(layer)).get("call") is call
        assert getattr(layer, "activation", None) is act


def test_follows_the_model_when_its_weights_change():
    model, W, b = dense_linear()
    x = np.ones((1, 5), "float32")
    visualize_saliency(model, -1, 0, x, **RAW)
    model.get_layer("out").set_weights([2 * W, b])
    np.testing.assert_allclose(visualize_saliency(model, -1, 0, x, **RAW), 2 * W[:, 0],
                               rtol=1e-6)


def test_no_retracing_across_calls():
    from vis.visualization import engine

    model, *_ = dense_relu()
    rng = np.random.default_rng(12)
    for n, k in [(1, 0), (5, 1), (3, [0, 2]), (1, 2)]:
        visualize_saliency(model, -1, k, rng.normal(size=(n, 6)).astype("float32"))
    copy = engine.get_copy(model, None)
    assert len(copy.functions) == 1
    (fn,) = copy.functions.values()
    assert fn.experimental_get_tracing_count() == 1


def test_steering_regressor_increase_decrease_maintain():
    """A regressor whose output rises with the left half and falls with the right half."""
    rng = np.random.default_rng(13)
    x = rng.uniform(size=(256, 6, 6, 1)).astype("float32")
    y = x[:, :, :3].mean(axis=(1, 2, 3)) - x[:, :, 3:].mean(axis=(1, 2, 3))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3, padding="same"),
                              keras.layers.Flatten(), keras.layers.Dense(1, name="steering")])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.fit(x, y, epochs=60, verbose=0)
    raw = visualize_saliency(model, -1, 0, x[:4], **RAW)[..., 0]
    assert raw[:, :, :3].mean() > 0 > raw[:, :, 3:].mean()
    inc = visualize_saliency(model, -1, 0, x[:4], grad_modifier="relu")
    dec = visualize_saliency(model, -1, 0, x[:4], grad_modifier="negate", normalize=False)
    np.testing.assert_allclose(dec, -raw, rtol=1e-6)
    assert inc[:, :, :3].mean() > inc[:, :, 3:].mean()
    steady = visualize_saliency(model, -1, 0, x[:4], grad_modifier="small_values",
                                normalize=False)
    np.testing.assert_allclose(steady, np.abs(1.0 / (raw + 1e-7 * np.where(raw >= 0, 1, -1))),
                               rtol=1e-4)


def test_copy_cache_is_bounded_and_releasable():
    import vis
    from vis import backprop_modifiers, copies

    model, *_ = dense_relu()
    x = np.ones((1, 6), "float32")
    for i in range(copies.MAX_COPIES_PER_MODEL + 3):
        modifier = backprop_modifiers.ActivationModifier(backprop_modifiers.guided, f"g{i}")
        visualize_saliency(model, -1, 0, x, backprop_modifier=modifier)
    assert len(copies.copies_of(model)) == copies.MAX_COPIES_PER_MODEL
    vis.release(model)
    assert copies.copies_of(model) == []
