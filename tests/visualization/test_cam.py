"""Grad-CAM, Grad-CAM++ and Guided Grad-CAM against independent TensorFlow/NumPy references."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_weights_equal, weights_of

from vis.losses import per_sample
from vis.visualization import ZeroMapWarning, visualize_cam, visualize_saliency


def _reference(model, x, k, conv="conv2", plus=False, with_score=False):
    """Independent Grad-CAM(++) with a plain tape on a sub-model of the user's model.

    Grad-CAM++ follows the paper's reference code (and tf-keras-vis): derivatives of exp(S),
    alphas renormalized per channel, `alpha = 0` where the second derivative is 0.
    """
    feat = keras.Model(model.inputs[0], model.get_layer(conv).output)
    W, b = model.get_layer("predictions").get_weights()
    head_in = keras.Input(feat.output.shape[1:])
    y = head_in
    for name in ("pool", "flatten", "dense"):
        y = model.get_layer(name)(y)
    head = keras.Model(head_in, y)
    a = tf.constant(feat(x))
    with tf.GradientTape() as tape:
        tape.watch(a)
        scores = (head(a) @ W + b)[:, k]
        score = tf.reduce_sum(scores)
    g = tape.gradient(score, a).numpy().astype("float64")
    a = a.numpy().astype("float64")
    exp_s = np.exp(scores.numpy().astype("float64"))[:, None, None, None]
    if plus:
        first = exp_s * g
        second, third = first * g, first * g * g
        denom = 2 * second + third * a.sum(axis=(1, 2), keepdims=True)
        alpha = second / (denom + (second == 0))
        norm = alpha.sum(axis=(1, 2), keepdims=True)
        alpha = alpha / (norm + (norm == 0))
        w = (np.maximum(first, 0) * alpha).sum(axis=(1, 2))
    else:
        w = g.mean(axis=(1, 2))
    cam = np.maximum(np.einsum("nhwk,nk->nhw", a, w), 0)
    return (cam, exp_s[:, 0, 0, 0]) if with_score else cam


def test_gradcam_matches_reference(digits_cnn):
    model, _, (x, y) = digits_cnn
    cam = visualize_cam(model, -1, 3, x[:4], normalize=False)
    ref = _reference(model, x[:4], 3)  # conv2 is 8x8 = input size: no resize needed
    np.testing.assert_allclose(cam, ref, rtol=1e-4, atol=1e-5)
    camn = visualize_cam(model, -1, 3, x[:4])
    assert camn.min() >= 0 and camn.max() <= 1


def test_gradcam_plus_plus_matches_reference(digits_cnn):
    model, _, (x, y) = digits_cnn
    cam = visualize_cam(model, -1, 5, x[:3], normalize=False, method="gradcam++")
    ref, exp_s = _reference(model, x[:3], 5, plus=True, with_score=True)
    # raw maps leave out the per-sample factor exp(S) of the reference code ...
    np.testing.assert_allclose(cam * exp_s[:, None, None], ref, rtol=1e-4,
                               atol=1e-5 * ref.max())
    # ... which normalized maps do not see
    camn = visualize_cam(model, -1, 5, x[:3], method="gradcam++")
    refn = (ref - ref.min(axis=(1, 2), keepdims=True)) / np.ptp(ref, axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(camn, refn, atol=1e-5)


def test_gradcam_upsamples_bilinearly_from_a_pooled_layer(digits_cnn):
    model, _, (x, _) = digits_cnn
    cam = visualize_cam(model, -1, 2, x[:2], penultimate_layer_idx="pool", normalize=False)
    assert cam.shape == (2, 8, 8)
    # reference: the 4x4 map from conv2's max-pooled output, resized (half-pixel bilinear)
    feat = keras.Model(model.inputs[0], model.get_layer("pool").output)
    a = tf.constant(feat(x[:2]))
    W, b = model.get_layer("predictions").get_weights()
    with tf.GradientTape() as tape:
        tape.watch(a)
        score = tf.reduce_sum((model.get_layer("dense")(model.get_layer("flatten")(a)) @ W + b)[:, 2])
    g = tape.gradient(score, a).numpy()
    small = np.maximum(np.einsum("nhwk,nk->nhw", a.numpy(), g.mean(axis=(1, 2))), 0)
    ref = tf.image.resize(small[..., None], (8, 8), method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(cam, ref, rtol=1e-4, atol=1e-5)


def test_guided_gradcam_is_the_product_of_its_parts(digits_cnn):
    model, _, (x, _) = digits_cnn
    y = per_sample(np.array([0, 1, 2]))
    cam = visualize_cam(model, -1, y, x[:3], normalize=False)
    guided = visualize_saliency(model, -1, y, x[:3], backprop_modifier="guided",
                                grad_modifier=None, normalize=False, keepdims=True)
    ggc = visualize_cam(model, -1, y, x[:3], guided=True, normalize=False, keepdims=True)
    np.testing.assert_allclose(ggc, guided * cam[..., None], rtol=1e-5, atol=1e-7)


def test_all_zero_cam_warns_and_stays_finite():
    inp = keras.Input((5, 5, 1))
    h = keras.layers.Conv2D(2, 3, padding="same", name="conv", kernel_initializer="zeros",
                            bias_initializer=keras.initializers.Constant(-1.0),
                            activation="relu")(inp)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inp, keras.layers.Dense(2, name="out")(h))
    with pytest.warns(ZeroMapWarning, match="Grad-CAM"):
        cam = visualize_cam(model, -1, 0, np.ones((2, 5, 5, 1), "float32"))
    assert np.all(cam == 0)


def test_batched_equals_single_and_model_untouched(digits_cnn):
    model, _, (x, _) = digits_cnn
    before = weights_of(model)
    batch = visualize_cam(model, -1, 4, x[:3], method="gradcam++")
    for i in range(3):
        np.testing.assert_allclose(visualize_cam(model, -1, 4, x[i], method="gradcam++"),
                                   batch[i], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(visualize_cam(model, -1, 4, x[:3], method="gradcam++",
                                             batch_size=2), batch, rtol=1e-5, atol=1e-6)
    assert_weights_equal(model, before)
