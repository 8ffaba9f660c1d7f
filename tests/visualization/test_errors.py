"""Clear errors for bad input, naming the parameter and the expected form."""

import keras
import numpy as np
import pytest
from conftest import assert_weights_equal, weights_of
from helpers_models import dense_linear, dense_relu

from vis.visualization import (
    visualize_cam,
    visualize_integrated_gradients,
    visualize_saliency,
    visualize_smoothgrad,
)


@pytest.fixture(scope="module")
def model():
    return dense_relu()[0]


X = np.ones((2, 6), "float32")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(seed_input=np.ones((2, 3, 6), "float32")), ValueError, r"`seed_input` has shape"),
        (dict(seed_input=np.ones((2, 5), "float32")), ValueError, r"expects one sample of shape"),
        (dict(seed_input=np.array([[np.nan] * 6])), ValueError, "NaN or inf"),
        (dict(seed_input=np.array([[np.inf] * 6])), ValueError, "NaN or inf"),
        (dict(seed_input=np.array([["a"] * 6])), TypeError, "real numbers"),
        (dict(layer_idx="nope"), ValueError, r"no layer with that name.*Valid names"),
        (dict(layer_idx=7), ValueError, r"`layer_idx`=7 is out of range"),
        (dict(layer_idx=1.5), TypeError, r"`layer_idx` must be"),
        (dict(filter_indices=3), ValueError, r"`filter_indices` index 3 is out of range"),
        (dict(filter_indices=[]), ValueError, r"`filter_indices` is empty"),
        (dict(filter_indices="0"), TypeError, r"`filter_indices` must be"),
        (dict(grad_modifier="bogus"), ValueError, r"grad_modifier 'bogus'.*Valid names"),
        (dict(backprop_modifier="bogus"), ValueError, r"backprop_modifier 'bogus'.*Valid names"),
        (dict(wrt_tensor="nope"), ValueError, r"`wrt_tensor`='nope'"),
    ],
)
def test_saliency_errors(model, kwargs, error, match):
    args = dict(layer_idx=-1, filter_indices=0, seed_input=X)
    args.update(kwargs)
    before = weights_of(model)
    with pytest.raises(error, match=match):
        visualize_saliency(model, args.pop("layer_idx"), args.pop("filter_indices"),
                           args.pop("seed_input"), **args)
    assert_weights_equal(model, before)


def test_disconnected_target_has_no_gradient_path():
    inp = keras.Input((4,))
    a = keras.layers.Dense(3, name="a")(inp)
    b = keras.layers.Dense(3, name="b")(inp)
    model = keras.Model(inp, keras.layers.Add(name="sum")([a, b]))
    for _ in range(2):  # the first call traces, the second reuses the compiled function
        with pytest.raises(ValueError, match="no gradient path") as info:
            visualize_saliency(model, "a", 0, np.ones((1, 4), "float32"), wrt_tensor="b")
        assert "in user code" not in str(info.value)


class _StopGradient(keras.layers.Layer):
    def call(self, x):
        return keras.ops.stop_gradient(x)


def test_stop_gradient_has_no_gradient_path():
    inp = keras.Input((4,))
    h = _StopGradient(name="stop")(inp)
    model = keras.Model(inp, keras.layers.Dense(2, name="out")(h))
    with pytest.raises(ValueError, match="no gradient path"):
        visualize_saliency(model, -1, 0, np.ones((1, 4), "float32"))


@pytest.mark.parametrize("bad", [0, -1, 2.5, float("nan"), True])
def test_smoothgrad_rejects_bad_samples(model, bad):
    with pytest.raises(ValueError, match="`samples` must be a positive int"):
        visualize_smoothgrad(model, -1, 0, X, samples=bad)


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, float("nan"), float("inf"), "x"])
def test_smoothgrad_rejects_bad_noise(model, bad):
    with pytest.raises(ValueError, match="`noise` must be"):
        visualize_smoothgrad(model, -1, 0, X, noise=bad)


def test_smoothgrad_rejects_bad_kind_and_batch_size(model):
    with pytest.raises(ValueError, match="`kind` must be one of"):
        visualize_smoothgrad(model, -1, 0, X, kind="median")
    with pytest.raises(ValueError, match="`batch_size` must be a positive int"):
        visualize_smoothgrad(model, -1, 0, X, batch_size=0)


@pytest.mark.parametrize("bad", [0, 1, -5, float("nan"), 3.0])
def test_integrated_gradients_rejects_bad_steps(model, bad):
    with pytest.raises(ValueError, match="`steps` must be"):
        visualize_integrated_gradients(model, -1, 0, X, steps=bad)


def test_integrated_gradients_rejects_bad_baseline(model):
    with pytest.raises(ValueError, match="`baseline` has shape"):
        visualize_integrated_gradients(model, -1, 0, X, baseline=np.zeros(3))
    with pytest.raises(ValueError, match="`baseline` contains NaN"):
        visualize_integrated_gradients(model, -1, 0, X, baseline=np.full(6, np.nan))


def test_cam_errors():
    model = dense_linear()[0]
    with pytest.raises(ValueError, match="Could not find a layer with a spatial output"):
        visualize_cam(model, -1, 0, np.ones((1, 5), "float32"))
    with pytest.raises(ValueError, match="`method` must be one of"):
        visualize_cam(model, -1, 0, np.ones((1, 5), "float32"), method="cam")


def test_multi_input_models_are_rejected_clearly():
    a, b = keras.Input((2,)), keras.Input((2,))
    model = keras.Model([a, b], keras.layers.Dense(1)(keras.layers.Concatenate()([a, b])))
    with pytest.raises(ValueError, match="2 inputs"):
        visualize_saliency(model, -1, 0, np.ones((1, 2), "float32"))


def test_not_a_model():
    with pytest.raises(TypeError, match="keras.Model"):
        visualize_saliency(lambda x: x, -1, 0, X)


def test_input_layers_are_not_targets():
    model = dense_linear()[0]
    with pytest.raises(ValueError, match="is an input layer"):
        visualize_saliency(model, 0, 0, np.ones((1, 5), "float32"))


def test_nested_input_layer_as_wrt_tensor_is_rejected():
    inner = dense_linear()[0]
    inner = keras.Model(inner.inputs[0], inner.outputs[0], name="inner")
    inp = keras.Input((5,))
    model = keras.Model(inp, inner(keras.layers.Dense(5, name="pre")(inp)))
    nested_input = [layer for layer in inner.layers if isinstance(layer, keras.layers.InputLayer)]
    with pytest.raises(ValueError, match="is an input layer"):
        visualize_saliency(model, -1, 0, np.ones((1, 5), "float32"),
                           wrt_tensor=f"inner/{nested_input[0].name}")


def test_nan_gradients_raise():
    inp = keras.Input((3,))
    h = keras.layers.Lambda(lambda t: keras.ops.sqrt(t), name="sqrt")(inp)
    model = keras.Model(inp, keras.layers.Dense(1, name="out")(h))
    with pytest.raises(ValueError, match="NaN or inf for sample"):
        visualize_saliency(model, -1, 0, np.array([[0.0, 1.0, 2.0]], "float32"))


def test_unbuilt_model():
    model = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not built"):
        visualize_saliency(model, -1, 0, np.ones((1, 3), "float32"))


def test_numpy_integer_layer_index():
    model, W, _ = dense_linear()
    g = visualize_saliency(model, np.int64(-1), np.int64(1), np.ones((1, 5), "float32"),
                           grad_modifier=None, normalize=False)
    np.testing.assert_allclose(g, W[:, 1], rtol=1e-6)  # a batch of one: one map (keras-vis)
