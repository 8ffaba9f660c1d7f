"""Model shapes users bring: nested classifiers, channels_first with BatchNorm, MobileNetV2,
mixed precision, custom-loss caching."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_weights_equal, weights_of

from vis.losses import ActivationMaximization
from vis.visualization import (
    visualize_cam,
    visualize_saliency,
    visualize_saliency_with_losses,
)

RAW = dict(grad_modifier=None, normalize=False, keepdims=True)


def _classifier(name="clf", as_list=False):
    inp = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inp)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(3, activation="softmax", name="pred")(h)
    return keras.Model(inp, [out] if as_list else out, name=name)


def _logit_gradient(inner, x, k):
    logits = keras.Model(inner.inputs[0], inner.get_layer("pred").input)
    W, b = inner.get_layer("pred").get_weights()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        s = tf.reduce_sum((logits(xt) @ W + b)[:, k])
    return tape.gradient(s, xt).numpy()


@pytest.mark.parametrize("as_list", [False, True])
@pytest.mark.parametrize("wrap", ["functional", "sequential"])
def test_nested_softmax_classifier_is_explained_on_its_logits(wrap, as_list):
    inner = _classifier(as_list=as_list)
    if wrap == "sequential":
        outer = keras.Sequential([keras.Input((6, 6, 1)), inner])
    else:
        inp = keras.Input((6, 6, 1))
        outer = keras.Model(inp, inner(inp))
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 1)).astype("float32")
    g = visualize_saliency(outer, -1, 1, x, **RAW)
    np.testing.assert_allclose(g, _logit_gradient(inner, x, 1), rtol=1e-4, atol=1e-6)
    cam = visualize_cam(outer, -1, 1, x)  # the last conv inside the nested model is found
    ref = visualize_cam(outer, -1, 1, x, penultimate_layer_idx="clf/conv")
    np.testing.assert_allclose(cam, ref)


def test_gradcam_does_not_pick_a_preprocessing_layer_before_a_nested_model():
    inner = _classifier()
    inp = keras.Input((6, 6, 1))
    outer = keras.Model(inp, inner(keras.layers.Rescaling(1.0, name="resc")(inp)))
    x = np.random.default_rng(1).uniform(size=(2, 6, 6, 1)).astype("float32")
    np.testing.assert_allclose(visualize_cam(outer, -1, 0, x),
                               visualize_cam(outer, -1, 0, x, penultimate_layer_idx="clf/conv"))


def _channels_first_bn_model():
    inp = keras.Input((1, 6, 6))
    h = keras.layers.Conv2D(4, 3, padding="same", data_format="channels_first", name="conv")(inp)
    h = keras.layers.BatchNormalization(axis=1, name="bn")(h)
    h = keras.layers.ReLU(name="relu")(h)
    h = keras.layers.GlobalAveragePooling2D(data_format="channels_first")(h)
    model = keras.Model(inp, keras.layers.Dense(3, name="out")(h))
    bn = model.get_layer("bn")
    rng = np.random.default_rng(2)
    bn.set_weights([rng.uniform(0.5, 2, 4), rng.normal(size=4), rng.normal(size=4) * 0.1,
                    rng.uniform(0.5, 2, 4)])
    return model


def test_channels_first_filter_targets_and_gradcam():
    model = _channels_first_bn_model()
    x = np.random.default_rng(3).normal(size=(2, 1, 6, 6)).astype("float32")
    feat = keras.Model(model.inputs[0], model.get_layer("relu").output)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        s = tf.reduce_sum(tf.reduce_mean(feat(xt)[:, 3], axis=(1, 2)))
    np.testing.assert_allclose(visualize_saliency(model, "relu", 3, x, **RAW),
                               tape.gradient(s, xt).numpy(), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="index 5 is out of range.*4 units"):
        visualize_saliency(model, "relu", 5, x)
    # Grad-CAM reference on the (N, C, H, W) feature map
    a = tf.constant(feat(x))
    W, b = model.get_layer("out").get_weights()
    with tf.GradientTape() as tape:
        tape.watch(a)
        s = tf.reduce_sum((tf.reduce_mean(a, axis=(2, 3)) @ W + b)[:, 1])
    g = tape.gradient(s, a).numpy()
    ref = np.maximum(np.einsum("nkhw,nk->nhw", a.numpy(), g.mean(axis=(2, 3))), 0)
    np.testing.assert_allclose(visualize_cam(model, -1, 1, x, normalize=False), ref, rtol=1e-4,
                               atol=1e-6)


def test_mobilenet_v2_guided_differs_and_model_untouched():
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35,
                                           classes=4)
    x = np.random.default_rng(4).uniform(size=(2, 32, 32, 3)).astype("float32")
    before = weights_of(model)
    out_before = model(x).numpy()
    vanilla = visualize_saliency(model, -1, 1, x, **RAW)
    guided = visualize_saliency(model, -1, 1, x, backprop_modifier="guided", **RAW)
    deconv = visualize_saliency(model, -1, 1, x, backprop_modifier="relu", **RAW)
    def rel_diff(a, b):
        return np.abs(a - b).max() / np.abs(a).max()

    # random weights give tiny gradients: compare relative differences
    assert rel_diff(vanilla, guided) > 0.1 and rel_diff(guided, deconv) > 0.1
    cam = visualize_cam(model, -1, 1, x)
    assert cam.shape == (2, 32, 32) and np.all(np.isfinite(cam))
    assert_weights_equal(model, before)
    np.testing.assert_array_equal(model(x).numpy(), out_before)


def test_mixed_precision_model_runs():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inp = keras.Input((6, 6, 1))
        h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inp)
        h = keras.layers.Flatten()(h)
        out = keras.layers.Dense(2, dtype="float32", name="out")(h)
        model = keras.Model(inp, out)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    x = np.random.default_rng(5).uniform(size=(2, 6, 6, 1)).astype("float32")
    for modifier in (None, "guided", "relu"):
        g = visualize_saliency(model, -1, 0, x, backprop_modifier=modifier)
        assert np.all(np.isfinite(g)) and g.max() == pytest.approx(1.0)
    cam = visualize_cam(model, -1, 0, x, method="gradcam++")
    assert np.all(np.isfinite(cam))


def test_loss_subclasses_and_flags_do_not_share_compiled_graphs():
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="out")(inp))
    W, b = model.get_layer("out").get_weights()
    x = np.random.default_rng(6).normal(size=(2, 4)).astype("float32")

    class Squared(ActivationMaximization):
        def call(self, output, target, channel_axis=-1):
            return -tf.reduce_sum(tf.square(output) * tf.cast(target, output.dtype), axis=1)

    visualize_saliency(model, "out", 0, x, **RAW)  # fills the cache
    z = x @ W + b
    got = visualize_saliency_with_losses(model, [(Squared("out", 0), -1.0)], x, **RAW)
    np.testing.assert_allclose(got, 2 * z[:, :1] * W[:, 0], rtol=1e-4, atol=1e-6)
    probs = ActivationMaximization("out", 0)
    probs.pre_softmax = False
    got = visualize_saliency_with_losses(model, [(probs, -1.0)], x, **RAW)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = p[:, :1] * (W[:, 0] - p @ W.T)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    # loss weights are run-time values: a new weight gives a new map without a new graph
    # (keras-vis' convention: the gradient of sum(weight * loss), so -3 "increases" 3x)
    g3 = visualize_saliency_with_losses(model, [(ActivationMaximization("out", 0), -3.0)], x,
                                        **RAW)
    np.testing.assert_allclose(g3, 3 * np.tile(W[:, 0], (2, 1)), rtol=1e-5)
