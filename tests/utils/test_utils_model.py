"""Layer resolution and model copies."""

import keras
import numpy as np
import pytest
from helpers_models import dense_relu, small_relu_convnet

from vis.utils.model import copy_model, find_last_conv_layer, find_layer_idx, resolve_layer


def test_resolve_layer_forms():
    model = dense_relu()[0]
    assert resolve_layer(model, -1)[0] == "out"
    assert resolve_layer(model, 0)[0] == "hidden"  # Sequential: no InputLayer in model.layers
    assert resolve_layer(model, "hidden")[1] is model.layers[0]
    assert resolve_layer(model, model.layers[1])[0] == "out"
    assert resolve_layer(model, model.layers[1].output)[0] == "out"
    with pytest.raises(ValueError, match="Valid names"):
        resolve_layer(model, "x")
    with pytest.raises(ValueError, match="not a layer of this model"):
        resolve_layer(model, keras.layers.Dense(2))
    assert find_layer_idx(model, "out") == 1


def test_nested_paths_and_ambiguity():
    inner = small_relu_convnet("layer")[0]
    inner = keras.Model(inner.inputs, inner.outputs[0], name="base")
    inp = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(1, 1, name="conv", padding="same")(inp)
    outer = keras.Model(inp, inner(h))
    assert resolve_layer(outer, "base/relu")[0] == "base/relu"
    assert resolve_layer(outer, "relu")[0] == "base/relu"  # unique leaf name
    assert resolve_layer(outer, "conv")[0] == "conv"  # an exact path wins over leaf names
    assert resolve_layer(outer, "base/conv")[0] == "base/conv"
    assert find_last_conv_layer(outer) == "base/relu"
    other = small_relu_convnet("layer", seed=1)[0]
    other = keras.Model(other.inputs, other.outputs[0], name="other")
    inp2 = keras.Input((6, 6, 1))
    both = keras.Model(inp2, keras.layers.Add()([inner(inp2), other(inp2)]))
    with pytest.raises(ValueError, match="ambiguous"):
        resolve_layer(both, "relu")


def test_copy_model_copies_weights_not_layers():
    model = small_relu_convnet("fused")[0]
    copy = copy_model(model)
    assert all(a is not b for a, b in zip(copy.layers, model.layers))
    for a, b in zip(copy.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.ones((1, 6, 6, 1), "float32")
    np.testing.assert_allclose(copy(x), model(x))


def test_subclassed_models_get_a_clear_error():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    net = Net()
    net(np.ones((1, 3), "float32"))
    with pytest.raises(TypeError, match="Functional API"):
        copy_model(net)


def test_lambda_layers_are_copied_without_unsafe_deserialization():
    from vis.visualization import visualize_saliency

    inp = keras.Input((4,))
    h = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inp)
    model = keras.Model(inp, keras.layers.Dense(2, name="out")(h))
    g = visualize_saliency(model, -1, 1, np.ones((1, 4), "float32"), grad_modifier=None,
                           normalize=False)
    np.testing.assert_allclose(g, 2 * model.get_layer("out").get_weights()[0][:, 1], rtol=1e-6)
    assert copy_model(model).get_layer("double") is not model.get_layer("double")


def test_adapted_normalization_layers_are_copied_with_their_statistics():
    from vis.visualization import visualize_saliency

    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(64, 4)).astype("float32")
    norm = keras.layers.Normalization(name="norm")
    norm.adapt(data)
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(2, name="out")(norm(inp)))
    copy = copy_model(model)
    np.testing.assert_allclose(copy(data[:5]), model(data[:5]), rtol=1e-5)
    W = model.get_layer("out").get_weights()[0]
    g = visualize_saliency(model, -1, 0, data[:2], grad_modifier=None, normalize=False)
    np.testing.assert_allclose(g, np.tile(W[:, 0] / np.sqrt(norm.variance.numpy().ravel()), (2, 1)),
                               rtol=1e-4)
