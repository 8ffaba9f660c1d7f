"""Functional models with raw Keras ops (`h + skip`, `x * 2`, `keras.ops.softmax`) in the graph."""

import keras
import pytest
from conftest import assert_weights_equal, weights_of
from pss_testing import assert_close_1e6, filter_mean, random_data, reference_saliency

from vis.pss import ParameterSaliency


@pytest.fixture(scope="module")
def residual():
    """conv1 -> `h + inputs` -> conv2 -> `ops.multiply(h, 2)` -> Dense -> `ops.softmax`, and the
    same layers ending at the logits (the independent reference of the cross-entropy)."""
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv1",
                            kernel_initializer=init(1), bias_initializer="ones")(inputs)
    h = h + inputs
    h = keras.layers.Conv2D(3, 3, activation="tanh", name="conv2",
                            kernel_initializer=init(2))(h)
    h = keras.layers.Flatten()(keras.ops.multiply(h, 2.0))
    logits = keras.layers.Dense(4, name="head", kernel_initializer=init(3))(h)
    model = keras.Model(inputs, keras.ops.softmax(logits))
    x, y = random_data((6, 6, 2), 5, n_classes=4, seed=21)
    return model, keras.Model(inputs, logits), x, y


@pytest.mark.parametrize("method", ["patches", "vmap"])
def test_models_with_ops_nodes_are_copied_and_exact(residual, method):
    """Review defect 1: Keras passes op nodes to `clone_function` too; they have no weights."""
    model, logits_model, x, y = residual
    before = weights_of(model)
    psal = ParameterSaliency(model, gradient_method=method, include_dense=True)
    assert psal.method == method and psal.outputs == "probabilities"
    kernels = [logits_model.get_layer(name).kernel for name in ("conv1", "conv2", "head")]
    expected = reference_saliency(logits_model, x, y, kernels, [filter_mean] * 3)
    assert_close_1e6(psal.filter_saliency(x, y), expected)
    assert_weights_equal(model, before)


def test_ops_between_layers_of_a_logits_model():
    """`x * 2` between two layers of a logits model (no softmax to drop, taps only)."""
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv", kernel_initializer=init(4),
                            bias_initializer="ones")(inputs)
    h = keras.layers.Flatten()(h * 2.0)
    model = keras.Model(inputs, keras.layers.Dense(4, name="head", kernel_initializer=init(5))(h))
    x, y = random_data((6, 6, 1), 4, n_classes=4, seed=22)
    psal = ParameterSaliency(model)
    assert psal.method == "patches" and psal.outputs == "logits"
    expected = reference_saliency(model, x, y, [model.get_layer("conv").kernel], [filter_mean])
    assert_close_1e6(psal.filter_saliency(x, y), expected)
