"""The numbers of vis on the active Keras backend against independent NumPy references.

Backend-neutral: run in the main suite on TensorFlow, and by `test_other_backends.py` under
`KERAS_BACKEND=jax` and `KERAS_BACKEND=torch`, with the same references computed here from the
same fixed weights. Agreeing with one NumPy reference to 1e-5 on every backend is agreeing with
each other.
"""

import keras
import numpy as np
import pytest
from backend_references import (
    classifier,
    cnn,
    filter_saliency,
    grad_cam,
    images,
    input_gradients,
    integrated_gradients,
    linear_patterns,
    logits,
    lrp_epsilon,
    relu_mlp,
    smoothgrad,
)

import vis
from vis.copies import weights_digest

TARGETS = np.array([0, 1, 2, 3, 1])


def close(got, want, rtol=1e-5):
    """Equal to `rtol`, relative to each value and (near zero) to the largest one."""
    want = np.asarray(want, dtype="float64")
    np.testing.assert_allclose(np.asarray(got, dtype="float64"), want, rtol=rtol,
                               atol=rtol * np.abs(want).max())


@pytest.fixture(scope="module")
def model_and_params():
    return cnn()


@pytest.mark.parametrize("method, rule", [("gradient", "vanilla"),
                                          ("guided_backprop", "guided"),
                                          ("deconvnet", "deconv")])
def test_gradient_guided_deconvnet_equal_numpy(model_and_params, method, rule):
    model, p = model_and_params
    x = images()
    got = vis.explain(model, x, method, TARGETS)
    want = input_gradients(p, x, TARGETS, rule)
    assert np.abs(want).max() > 0.1
    close(got, want)


def test_the_three_backward_passes_differ(model_and_params):
    """The references are not trivially equal: each rule changes the numbers."""
    _, p = model_and_params
    x = images()
    maps = [input_gradients(p, x, TARGETS, r) for r in ("vanilla", "guided", "deconv")]
    assert not np.allclose(maps[0], maps[1]) and not np.allclose(maps[1], maps[2])


def test_gradient_x_input_equals_numpy(model_and_params):
    model, p = model_and_params
    x = images()
    close(vis.explain(model, x, "gradient_x_input", TARGETS),
          x * input_gradients(p, x, TARGETS))


def test_integrated_gradients_equal_numpy_and_are_complete(model_and_params):
    model, p = model_and_params
    x = images()
    ig = vis.explain(model, x, "integrated_gradients", TARGETS, steps=64, baseline=0.0)
    close(ig, integrated_gradients(p, x, TARGETS, 64))
    # completeness: the attributions add up to the logit difference to the baseline
    z = logits(p, x)
    z0 = logits(p, np.zeros_like(x))
    delta = z[np.arange(len(x)), TARGETS] - z0[np.arange(len(x)), TARGETS]
    np.testing.assert_allclose(ig.reshape(len(x), -1).sum(1), delta, rtol=2e-2, atol=2e-3)


@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_grad_cam_at_a_named_layer_equals_numpy(model_and_params, layer):
    model, p = model_and_params
    x = images()
    got = vis.explain(model, x, "gradcam", TARGETS, layer=layer)
    assert got.shape == (len(x), 7, 7)
    close(got, grad_cam(p, x, TARGETS, layer))


def test_smooth_is_reproducible_with_a_seed_and_equals_numpy(model_and_params):
    model, p = model_and_params
    x = images()
    settings = {"samples": 6, "noise": 0.1, "seed": 7}
    first = vis.explain(model, x, "gradient", TARGETS, smooth=settings)
    again = vis.explain(model, x, "gradient", TARGETS, smooth=settings)
    np.testing.assert_array_equal(first, again)
    other = vis.explain(model, x, "gradient", TARGETS, smooth={**settings, "seed": 8})
    assert not np.allclose(first, other)
    close(first, smoothgrad(p, x, TARGETS, 6, 0.1, 7))


def test_lrp_epsilon_equals_numpy_and_conserves_relevance():
    model, weights = relu_mlp()
    x = np.random.default_rng(4).normal(size=(4, 6)).astype("float32")
    targets = np.array([0, 1, 2, 0])
    got = vis.explain(model, x, "lrp_epsilon", targets, epsilon=1e-3)
    want = lrp_epsilon(weights, x, targets, 1e-3)
    close(got, want, rtol=1e-4)
    out = np.stack([np.maximum(xi.astype("float64") @ weights[0], 0) @ weights[1] for xi in x])
    np.testing.assert_allclose(got.sum(1), out[np.arange(4), targets], rtol=1e-2)


def test_linear_patterns_and_patternnet_equal_numpy():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(4, 3)).astype("float32")
    b = rng.normal(size=3).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")])
    model.set_weights([w, b])
    x = (rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4)) + 2.0).astype("float32")
    patterns = vis.pattern.fit_patterns(model, x, "linear", batch_size=64, verbose=False,
                                        dtype="float64")
    a = linear_patterns(x, w.astype("float64"))
    close(patterns["dense"], a, rtol=1e-6)
    # PatternNet of one Dense layer: y_k a_k; PatternAttribution: y_k (w_k * a_k)
    xs, targets = x[:3], np.array([0, 2, 1])
    y = x[:3].astype("float64") @ w + b
    yk = y[np.arange(3), targets][:, None]
    close(vis.explain(model, xs, "patternnet", targets, patterns=patterns), yk * a[:, targets].T)
    close(vis.explain(model, xs, "patternattribution", targets, patterns=patterns),
          yk * (w * a)[:, targets].T)


@pytest.mark.parametrize("method", ["patches", "vmap"])
def test_parameter_space_saliency_equals_numpy(method):
    model, p = classifier()
    rng = np.random.default_rng(6)
    x = rng.uniform(-1, 1, (6, 5, 5, 1)).astype("float32")
    y = rng.integers(0, 3, 6)
    psal = vis.pss.ParameterSaliency(model, include_dense=True, gradient_method=method)
    assert psal.method == method
    close(psal.filter_saliency(x, y, batch_size=4), filter_saliency(p, x, y), rtol=1e-4)
    psal.fit(x, y, verbose=False)
    grads = psal.input_saliency(x[:2], y[:2], k=2)
    assert grads.shape == (2, 5, 5, 1) and np.isfinite(grads).all() and np.abs(grads).max() > 0


def test_the_users_model_is_untouched_by_every_method(model_and_params):
    model, _ = model_and_params
    x = images()
    digest = weights_digest(model)
    config = model.get_config()
    activations = {layer.name: getattr(layer, "activation", None) for layer in model.layers}
    patterns = vis.pattern.fit_patterns(model, images(40, seed=9), verbose=False)
    options = {"patternnet": {"patterns": patterns}, "patternattribution": {"patterns": patterns},
               "rise": {"masks": 64}, "kernel_shap": {"samples": 64, "n_segments": 8},
               "lime": {"samples": 64, "n_segments": 8}, "integrated_gradients": {"steps": 8},
               "smoothgrad": {"samples": 4}}
    for name in vis.methods.names():
        maps = vis.explain(model, x[:2], name, TARGETS[:2], **options.get(name, {}))
        assert np.isfinite(maps).all(), name
    assert weights_digest(model) == digest
    assert model.get_config() == config
    for layer in model.layers:
        assert "call" not in vars(layer), layer.name  # no instance-level patch
        assert getattr(layer, "activation", None) is activations[layer.name], layer.name
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)),
                               np.exp(logits(cnn()[1], x)) / np.exp(logits(cnn()[1], x)).sum(
                                   1, keepdims=True), rtol=1e-5)
