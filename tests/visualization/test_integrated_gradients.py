"""Integrated Gradients: exact on linear models, completeness on a CNN, batching invariance."""

import numpy as np
from conftest import assert_weights_equal, weights_of
from helpers_models import dense_linear

from vis.losses import ActivationMaximization, per_sample
from vis.visualization import visualize_gradient_x_input, visualize_integrated_gradients
from vis.visualization.integrated_gradients import integrated_gradients, trapezoid_weights

RAW = dict(grad_modifier=None, normalize=False, keepdims=True)


def test_trapezoid_weights_sum_to_one():
    alphas, weights = trapezoid_weights(5)
    np.testing.assert_allclose(alphas, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(weights, [0.125, 0.25, 0.25, 0.25, 0.125])


def test_linear_model_is_exact():
    model, W, _ = dense_linear()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5)).astype("float32")
    base = rng.normal(size=(5,)).astype("float32")
    ig = visualize_integrated_gradients(model, -1, 2, x, baseline=base, steps=3, **RAW)
    np.testing.assert_allclose(ig, (x - base) * W[:, 2], rtol=1e-5, atol=1e-6)
    ig0 = visualize_integrated_gradients(model, -1, 2, x, steps=2, **RAW)
    np.testing.assert_allclose(ig0, x * W[:, 2], rtol=1e-5, atol=1e-6)
    igc = visualize_integrated_gradients(model, -1, 2, x, baseline=lambda b: b * 0 + 1.0, **RAW)
    np.testing.assert_allclose(igc, (x - 1.0) * W[:, 2], rtol=1e-5, atol=1e-6)


def test_gradient_x_input_on_linear_model():
    model, W, _ = dense_linear()
    x = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    np.testing.assert_allclose(visualize_gradient_x_input(model, -1, 1, x, **RAW), x * W[:, 1],
                               rtol=1e-6)


def test_completeness_on_a_cnn(digits_cnn):
    model, _, (x, y) = digits_cnn
    before = weights_of(model)
    loss = [(ActivationMaximization(-1, per_sample(y[:4])), 1.0)]
    ig, delta = integrated_gradients(model, loss, x[:4], steps=256, batch_size=300)
    total = ig.reshape(4, -1).sum(axis=1)
    np.testing.assert_array_less(np.abs(total - delta), 0.02 * np.abs(delta))
    # delta is f(x) - f(0) on the logits, computed independently here
    logits_model = __import__("keras").Model(model.inputs[0], model.get_layer("predictions").input)
    W, b = model.get_layer("predictions").get_weights()
    f = (logits_model.predict(x[:4], verbose=0) @ W + b)[np.arange(4), y[:4]]
    f0 = (logits_model.predict(np.zeros_like(x[:1]), verbose=0) @ W + b)[0, y[:4]]
    np.testing.assert_allclose(delta, f - f0, rtol=1e-4, atol=1e-4)
    assert_weights_equal(model, before)


def test_batching_changes_nothing(digits_cnn):
    model, _, (x, y) = digits_cnn
    t = per_sample(y[:3])
    a = visualize_integrated_gradients(model, -1, t, x[:3], steps=20, **RAW)
    b = visualize_integrated_gradients(model, -1, t, x[:3], steps=20, batch_size=7, **RAW)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for i in range(3):
        s = visualize_integrated_gradients(model, -1, int(y[i]), x[i], steps=20, **RAW)
        np.testing.assert_allclose(s, a[i], rtol=1e-5, atol=1e-6)
