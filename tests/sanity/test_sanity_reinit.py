"""Layer re-initialization: fresh draws from each layer's own initializers, seeded, never a shuffle."""

import keras
import numpy as np
import pytest
from scipy import stats

from vis.sanity import randomization_steps, reinitialize_layer
from vis.sanity.reinit import derive_seed
from vis.utils.model import copy_model


def _glorot_limit(kernel_shape):
    receptive = int(np.prod(kernel_shape[:-2])) if len(kernel_shape) > 2 else 1
    fan_in, fan_out = kernel_shape[-2] * receptive, kernel_shape[-1] * receptive
    return np.sqrt(6.0 / (fan_in + fan_out))


@pytest.mark.parametrize("name", ["conv1", "conv2", "dense", "predictions"])
def test_redraw_follows_glorot_uniform_and_zero_bias(digits_cnn, name):
    model = digits_cnn[0]
    layer = model.get_layer(name)
    trained_kernel, trained_bias = layer.get_weights()
    kernel, bias = reinitialize_layer(layer, seed=0, path=name)
    limit = _glorot_limit(kernel.shape)
    assert kernel.shape == trained_kernel.shape and kernel.dtype == trained_kernel.dtype
    assert np.abs(kernel).max() <= limit
    # Kolmogorov-Smirnov against U(-limit, limit): the draw follows the initializer's law.
    assert stats.kstest(kernel.ravel(), stats.uniform(-limit, 2 * limit).cdf).pvalue > 1e-3
    if kernel.size > 1000:
        np.testing.assert_allclose(kernel.var(), limit**2 / 3, rtol=0.1)
    np.testing.assert_array_equal(bias, np.zeros_like(trained_bias))
    # New values, and not a permutation of the trained ones (sorted values would match).
    assert not np.allclose(kernel, trained_kernel)
    assert not np.allclose(np.sort(kernel.ravel()), np.sort(trained_kernel.ravel()))


def test_layer_is_not_modified_and_draws_are_seeded(digits_cnn):
    layer = digits_cnn[0].get_layer("dense")
    before = [w.copy() for w in layer.get_weights()]
    a = reinitialize_layer(layer, seed=7, path="dense")
    b = reinitialize_layer(layer, seed=7, path="dense")
    c = reinitialize_layer(layer, seed=8, path="dense")
    d = reinitialize_layer(layer, seed=7, path="conv2")  # the path enters the seed
    for w, w0 in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[0], c[0])
    assert not np.allclose(a[0], d[0])
    assert derive_seed(7, "dense", "0") == derive_seed(7, "dense", "0")
    assert 0 <= derive_seed(7, "dense", "0") < 2**31


def test_other_layer_types_use_their_own_initializers():
    inp = keras.Input((6, 4))
    h = keras.layers.LSTM(3, return_sequences=True, name="lstm")(inp)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.SeparableConv1D(2, 3, padding="same", name="sep")(h)
    h = keras.layers.DepthwiseConv1D(3, padding="same", name="dw",
                                     depthwise_initializer="ones")(h)
    out = keras.layers.TimeDistributed(keras.layers.Dense(2, bias_initializer="ones"),
                                       name="td")(h)
    model = keras.Model(inp, out)
    new = {name: reinitialize_layer(model.get_layer(name), 0, name)
           for name in ("lstm", "bn", "sep", "dw", "td")}
    kernel, recurrent, bias = new["lstm"]
    assert abs(kernel).max() <= _glorot_limit((4, 12))
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(3), atol=1e-5)  # orthogonal
    np.testing.assert_array_equal(bias, np.r_[np.zeros(3), np.ones(3), np.zeros(6)])  # forget=1
    gamma, beta, mean, var = new["bn"]
    np.testing.assert_array_equal(gamma, 1.0)
    np.testing.assert_array_equal(beta, 0.0)
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_array_equal(var, 1.0)
    assert [w.shape for w in new["sep"]] == [(3, 3, 1), (1, 3, 2), (2,)]
    np.testing.assert_array_equal(new["dw"][0], 1.0)  # DepthwiseConv's `kernel`
    np.testing.assert_array_equal(new["td"][1], 1.0)  # the wrapped Dense's bias initializer


def test_layer_without_initializer_attribute_raises():
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w

    inp = keras.Input((3,))
    model = keras.Model(inp, Scale(name="scale")(inp))
    with pytest.raises(ValueError, match="reinitialize="):
        reinitialize_layer(model.get_layer("scale"))


def test_steps_top_down_blocks_and_nested(digits_cnn):
    model = digits_cnn[0]
    assert [n for n, _ in randomization_steps(model)] == ["predictions", "dense", "conv2", "conv1"]
    steps = randomization_steps(model, ["predictions", ["conv2", "conv1"]])
    assert steps == [("predictions", ["predictions"]), ("conv2+conv1", ["conv2", "conv1"])]
    inner = copy_model(model)
    inp = keras.Input((8, 8, 1))
    outer = keras.Model(inp, keras.layers.Dense(3, name="head")(inner(inp)))
    names = [n for n, _ in randomization_steps(outer)]
    assert names == ["head", f"{inner.name}/predictions", f"{inner.name}/dense",
                     f"{inner.name}/conv2", f"{inner.name}/conv1"]
    block = randomization_steps(outer, [inner.name])
    assert block[0][1] == [f"{inner.name}/{n}" for n in ("conv1", "conv2", "dense", "predictions")]
    with pytest.raises(ValueError, match="no weights"):
        randomization_steps(model, ["pool"])
    with pytest.raises(ValueError, match="Valid names"):
        randomization_steps(model, ["nope"])
    with pytest.raises(ValueError, match="more than once"):
        randomization_steps(model, ["dense", "dense"])
    with pytest.raises(TypeError):
        randomization_steps(model, "dense")
