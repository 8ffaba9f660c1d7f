"""SmoothGrad / SmoothGrad-SQ / VarGrad against hand-computed means of gradients."""

import keras
import numpy as np
from conftest import assert_weights_equal, weights_of
from helpers_models import small_relu_convnet

from vis.losses import ActivationMaximization, per_sample
from vis.visualization import visualize_saliency, visualize_smoothgrad
from vis.visualization.smoothgrad import smooth_gradients

RAW = dict(grad_modifier=None, normalize=False, keepdims=True)


def _loop_reference(model, x, k, noise):
    grads = np.stack([visualize_saliency(model, -1, k, x + e, **RAW) for e in noise])
    return grads


def test_fixed_noise_equals_hand_computed_mean_square_and_var():
    model, *_ = small_relu_convnet("fused", seed=1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 6, 1)).astype("float32")
    noise = rng.normal(size=(2, 7, 6, 6, 1)).astype("float32") * 0.3
    refs = [_loop_reference(model, x[i], 1, noise[i]) for i in range(2)]
    loss = [(ActivationMaximization(-1, 1), 1.0)]
    for kind, agg in (("mean", lambda g: g.mean(0)), ("square", lambda g: (g**2).mean(0)),
                      ("var", lambda g: g.var(0))):
        got = smooth_gradients(model, loss, x, lambda i: noise[i], kind=kind, batch_size=3)
        np.testing.assert_allclose(got, np.stack([agg(r) for r in refs]), rtol=1e-4, atol=1e-6)


def test_noise_scale_follows_the_input_range():
    """f = sum(w * x^2): grad = 2 w (x + e), so VarGrad = 4 w^2 sigma^2 exactly in expectation."""
    inp = keras.Input((3,))
    sq = keras.layers.Multiply()([inp, inp])
    model = keras.Model(inp, keras.layers.Dense(1, use_bias=False, name="out")(sq))
    w = np.array([[1.0], [0.5], [2.0]], "float32")
    model.get_layer("out").set_weights([w])
    x = np.array([[0.0, 1.0, 3.0]], "float32")  # range 3 -> sigma = 0.2 * 3 = 0.6
    var = visualize_smoothgrad(model, -1, 0, x, samples=4000, noise=0.2, kind="var", seed=0,
                               **RAW)
    np.testing.assert_allclose(var, 4 * w[:, 0] ** 2 * 0.6**2, rtol=0.08)
    mean = visualize_smoothgrad(model, -1, 0, x, samples=4000, noise=0.2, seed=0, **RAW)
    np.testing.assert_allclose(mean, 2 * w[:, 0] * x[0], atol=0.1)


def test_zero_noise_arrays_give_the_vanilla_gradient():
    model, *_ = small_relu_convnet("fused", seed=2)
    x = np.random.default_rng(2).normal(size=(3, 6, 6, 1)).astype("float32")
    zeros = np.zeros((3, 6, 6, 1), "float32")
    got = smooth_gradients(model, [(ActivationMaximization(-1, 0), 1.0)], x, lambda i: zeros)
    np.testing.assert_allclose(got, visualize_saliency(model, -1, 0, x, **RAW), rtol=1e-5,
                               atol=1e-7)


def test_an_input_gets_the_same_map_alone_or_anywhere_in_a_batch(digits_cnn):
    model, _, (x, _) = digits_cnn
    batch = visualize_smoothgrad(model, -1, 3, x[:3], samples=10, seed=0, **RAW)
    reverse = visualize_smoothgrad(model, -1, 3, x[:3][::-1], samples=10, seed=0, **RAW)
    np.testing.assert_allclose(reverse[::-1], batch, rtol=1e-5, atol=1e-6)
    for i in range(3):
        alone = visualize_smoothgrad(model, -1, 3, x[i], samples=10, seed=0, **RAW)
        np.testing.assert_allclose(alone, batch[i], rtol=1e-5, atol=1e-6)


def test_seeded_results_repeat_and_do_not_depend_on_batching(digits_cnn):
    model, _, (x, y) = digits_cnn
    before = weights_of(model)
    target = per_sample(y[:5])
    a = visualize_smoothgrad(model, -1, target, x[:5], samples=20, seed=3)
    b = visualize_smoothgrad(model, -1, target, x[:5], samples=20, seed=3, batch_size=7)
    c = visualize_smoothgrad(model, -1, target, x[:5], samples=20, seed=3, batch_size=100)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)
    d = visualize_smoothgrad(model, -1, target, x[:5], samples=20, seed=4)
    assert not np.allclose(a, d)
    single = visualize_smoothgrad(model, -1, int(y[2]), x[2], samples=20, seed=3)
    assert single.shape == (8, 8)
    assert_weights_equal(model, before)
