"""tf-keras-vis's Grad-CAM and Grad-CAM++ suites, in vis's words, and Grad-CAM++'s weights
against a NumPy version of the reference code (derivatives of exp(S), renormalized alphas)."""

import keras
import numpy as np
import pytest
from compat_models import conv_model, dense_model, sample, two_input_model

import vis
from vis.methods.gradcam import grad_cam_weights
from vis.visualization import visualize_cam


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_shapes_and_range(method):
    cam = visualize_cam(conv_model(), -1, 0, sample((2, 8, 8, 3)), method=method)
    assert cam.shape == (2, 8, 8) and cam.min() >= 0 and cam.max() <= 1
    raw = visualize_cam(conv_model(), -1, 0, sample((2, 8, 8, 3)), method=method,
                        normalize=False)
    assert raw.min() >= 0
    assert vis.explain(conv_model(), sample((2, 8, 8, 3)), method, 0).shape == (2, 8, 8)


@pytest.mark.parametrize("layer", ["conv_1", -3, None])
def test_penultimate_layer_choices(layer):
    cam = visualize_cam(conv_model(), -1, 1, sample((1, 8, 8, 3)), penultimate_layer_idx=layer)
    assert cam.shape == (8, 8)


def test_a_model_without_convolution_is_refused():
    with pytest.raises(ValueError, match="spatial"):
        visualize_cam(dense_model(), -1, 0, sample((2, 8)))


def test_two_inputs_upsample_to_the_first_image_input():
    x = [sample((2, 8, 8, 3)), sample((2, 10, 10, 3), 1)]
    assert vis.explain(two_input_model(), x, "gradcam", 0, layer="conv_a").shape == (2, 8, 8)


def test_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = conv_model()
        for method in ("gradcam", "gradcam++"):
            cam = visualize_cam(model, -1, 0, sample((2, 8, 8, 3)), method=method)
            assert np.all(np.isfinite(cam))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _reference_weights(g, a, score):
    """tf-keras-vis / the paper's code, in NumPy: derivatives of exp(S), alphas renormalized."""
    e = np.exp(score)[:, None, None, None]
    first, second, third = e * g, e * g**2, e * g**3
    denom = 2 * second + third * a.sum(axis=(1, 2), keepdims=True)
    alpha = second / (denom + (second == 0))
    total = alpha.sum(axis=(1, 2), keepdims=True)
    alpha = alpha / (total + (total == 0))
    return (np.maximum(first, 0) * alpha).sum(axis=(1, 2))


def test_gradcam_plus_plus_weights_against_numpy_reference():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(3, 5, 4, 6))
    g[0, :, :, 0] = 0.0  # a channel without gradient
    a = np.abs(rng.normal(size=(3, 5, 4, 6)))
    score = rng.normal(size=3)
    ours = grad_cam_weights(g, a, "gradcam++")
    ref = _reference_weights(g, a, score)
    # the same weights up to exp(S) per sample, which normalized maps do not see
    np.testing.assert_allclose(ours * np.exp(score)[:, None], ref, rtol=1e-10)
    cam = np.maximum(np.einsum("nhwk,nk->nhw", a, ours), 0)
    ref_cam = np.maximum(np.einsum("nhwk,nk->nhw", a, ref), 0)
    np.testing.assert_allclose(cam / cam.max(axis=(1, 2), keepdims=True),
                               ref_cam / ref_cam.max(axis=(1, 2), keepdims=True), rtol=1e-10)
