"""Registries of losses, grad modifiers and backprop modifiers; custom extensions."""

import numpy as np
import pytest
import tensorflow as tf
from helpers_models import dense_linear, small_relu_convnet

from vis import backprop_modifiers, grad_modifiers, losses
from vis.losses import ActivationMaximization, Loss
from vis.visualization import visualize_saliency, visualize_saliency_with_losses

RAW = dict(grad_modifier=None, normalize=False, keepdims=True)


def test_grad_modifier_values():
    g = np.array([-2.0, 0.0, 0.5])
    np.testing.assert_allclose(grad_modifiers.get("absolute")(g), [2, 0, 0.5])
    np.testing.assert_allclose(grad_modifiers.get("square")(g), [4, 0, 0.25])
    np.testing.assert_allclose(grad_modifiers.get("negate")(g), [2, 0, -0.5])
    np.testing.assert_allclose(grad_modifiers.get("relu")(g), [0, 0, 0.5])
    inv = grad_modifiers.get("invert")(g)
    assert np.all(np.isfinite(inv)) and inv[0] == pytest.approx(-0.5) and inv[2] == pytest.approx(2)
    np.testing.assert_allclose(grad_modifiers.get("small_values")(g), np.abs(inv))
    assert grad_modifiers.get(None)(g) is g and grad_modifiers.get("linear")(g) is g
    f = lambda a: a * 3  # noqa: E731
    assert grad_modifiers.get(f) is f
    with pytest.raises(ValueError, match="Valid names"):
        grad_modifiers.get("nope")
    with pytest.raises(TypeError):
        grad_modifiers.get(3)


@pytest.fixture
def clean_registries():
    saved = (grad_modifiers.REGISTRY.snapshot(), backprop_modifiers.REGISTRY.snapshot())
    yield
    for registry, old in zip((grad_modifiers.REGISTRY, backprop_modifiers.REGISTRY), saved):
        registry.restore(old)


def test_registering_a_grad_modifier(clean_registries):
    grad_modifiers.register("times_ten", lambda g: 10 * g)
    model, W, _ = dense_linear()
    out = visualize_saliency(model, -1, 0, np.ones((1, 5), "float32"), grad_modifier="times_ten",
                             normalize=False)
    np.testing.assert_allclose(out, 10 * W[:, 0], rtol=1e-6)


def test_a_modifier_that_empties_the_map_warns():
    import keras

    from vis.visualization import ZeroMapWarning

    inp = keras.Input((3,))
    layer = keras.layers.Dense(1, name="out")
    model = keras.Model(inp, layer(inp))
    layer.set_weights([-np.ones((3, 1), "float32"), np.zeros(1, "float32")])
    with pytest.warns(ZeroMapWarning, match="grad_modifier 'relu'"):
        out = visualize_saliency(model, -1, 0, np.ones((1, 3), "float32"), grad_modifier="relu")
    assert np.all(out == 0)


def test_backprop_modifier_registry_and_custom_modifier(clean_registries):
    assert backprop_modifiers.get(None) is None
    assert backprop_modifiers.get("guided").name == "guided"
    for alias in ("relu", "deconv", "deconvnet", "rectified"):
        assert alias in backprop_modifiers.names()
    with pytest.raises(ValueError, match="Valid names"):
        backprop_modifiers.get("nope")
    with pytest.raises(TypeError):
        backprop_modifiers.get(1.5)

    def doubled(activation):
        @tf.custom_gradient
        def f(z):
            with tf.GradientTape() as tape:
                tape.watch(z)
                y = activation(z)

            return y, lambda dy: 2.0 * tape.gradient(y, z, output_gradients=dy)

        return f

    backprop_modifiers.register("doubled", doubled)
    model, *_ = small_relu_convnet("fused", seed=3)
    x = np.random.default_rng(3).normal(size=(2, 6, 6, 1)).astype("float32")
    vanilla = visualize_saliency(model, -1, 0, x, **RAW)
    np.testing.assert_allclose(visualize_saliency(model, -1, 0, x, backprop_modifier="doubled",
                                                  **RAW), 2 * vanilla, rtol=1e-5, atol=1e-7)
    # a plain callable works without registering
    np.testing.assert_allclose(visualize_saliency(model, -1, 0, x, backprop_modifier=doubled,
                                                  **RAW), 2 * vanilla, rtol=1e-5, atol=1e-7)


def test_losses_registry_and_with_losses_equivalence():
    # get() always returns a ready object (Keras-style): a name is built with its arguments
    built = losses.get("activation_maximization", layer=-1, filter_indices=1)
    assert isinstance(built, ActivationMaximization) and built.filter_indices == 1
    assert losses.get({"name": "activation_maximization", "layer": -1,
                       "filter_indices": 2}).filter_indices == 2
    assert losses.get(built) is built
    with pytest.raises(TypeError, match="filter_indices"):
        losses.get("activation_maximization", layer=-1)
    with pytest.raises(ValueError, match="Valid names"):
        losses.get("nope")
    model, W, _ = dense_linear()
    x = np.random.default_rng(4).normal(size=(3, 5)).astype("float32")
    am = ActivationMaximization(-1, 1)
    # keras-vis' convention: the map is d(sum weight * loss)/dx, and ActivationMaximization is
    # the negated activation, so weight -1 means "increase" (what visualize_saliency passes)
    np.testing.assert_allclose(
        visualize_saliency_with_losses(model, [(am, -1.0)], x),
        visualize_saliency(model, -1, 1, x))
    two = visualize_saliency_with_losses(
        model, [(am, 2.0), (ActivationMaximization("out", 0), -1.0)], x, **RAW)
    np.testing.assert_allclose(two, np.tile(W[:, 0] - 2 * W[:, 1], (3, 1)), rtol=1e-5)
    with pytest.raises(TypeError, match="pairs"):
        visualize_saliency_with_losses(model, [am], x)


def test_custom_loss_subclass():
    class SquaredOutput(Loss):
        """-(y_0)^2: the map is 2 y_0 W[:, 0]."""

        def __init__(self, layer):
            self.layer = layer

        def call(self, output, target, channel_axis=-1):
            return -tf.square(output[:, 0])

    model, W, b = dense_linear()
    x = np.random.default_rng(5).normal(size=(2, 5)).astype("float32")
    y0 = x @ W[:, 0] + b[0]
    g = visualize_saliency_with_losses(model, [(SquaredOutput(-1), -1.0)], x, **RAW)
    np.testing.assert_allclose(g, 2 * y0[:, None] * W[:, 0], rtol=1e-5)
