"""The boundary of the compiled calls: errors a user's model or inputs cause inside TensorFlow
come back as one clear `ValueError` naming the layer and what to do; channels_first models work."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import vis
from fuzz.fuzz_helpers import OK, assert_clean_message, check_case
from vis import engine
from vis.errors import backend_error


class Failing(keras.layers.Layer):
    """Raises while traced (a Python error in `call`), as a buggy custom layer would."""

    def __init__(self, error="runtime", **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def call(self, t):
        if self.error == "runtime":
            raise RuntimeError("custom layer broke")
        raise ValueError("custom layer refuses this input")

    def compute_output_shape(self, shape):
        return shape

    def get_config(self):
        return {**super().get_config(), "error": self.error}


def _model(*layers, shape=(4,)):
    return keras.Sequential([keras.Input(shape), *layers, keras.layers.Flatten(),
                             keras.layers.Dense(2, name="out")])


@pytest.fixture(scope="module")
def broken_models():
    reshape = keras.layers.Lambda(lambda t: keras.ops.reshape(t, (-1, 3)), name="bad_reshape",
                                  output_shape=(3,))

    def check(t):
        tf.debugging.assert_less(t, 0.5, message="values must stay below 0.5")
        return t

    return {
        "lambda_reshape": (_model(reshape), "bad_reshape", "reshape"),
        "lambda_assert": (_model(keras.layers.Lambda(check, name="checker")), "checker",
                          "values must stay below 0.5"),
        "runtime_error_in_call": (_model(Failing("runtime", name="failing")), "Failing",
                                  "custom layer broke"),
    }


@pytest.mark.parametrize("case", ["lambda_reshape", "lambda_assert", "runtime_error_in_call"])
@pytest.mark.parametrize("call", [
    lambda m, x: vis.explain(m, x, "gradient", 0),
    lambda m, x: vis.explain(m, x, "gradient"),  # the predicted class: a forward pass first
    lambda m, x: vis.explain(m, x, "integrated_gradients", 0, steps=2),
    lambda m, x: vis.explain(m, x, "feature_ablation", 0),  # the scores pass
    lambda m, x: engine.predict(m, x),
], ids=["gradient", "predicted_class", "integrated_gradients", "feature_ablation", "predict"])
def test_a_layer_failing_inside_the_compiled_call(broken_models, case, call):
    model, layer, phrase = broken_models[case]
    x = np.ones((2, 4), "float32")
    err = check_case(lambda: call(model, x), (ValueError, None), [model])
    message = str(err)
    assert layer in message and phrase in message, message
    assert "model.predict" in message  # what to do
    assert isinstance(err.__cause__, Exception)  # the backend's error is chained


def test_a_value_error_raised_while_tracing_keeps_its_own_message():
    model = _model(Failing("value", name="failing"))
    err = check_case(lambda: vis.explain(model, np.ones((2, 4), "float32"), "gradient", 0),
                     (ValueError, None), [model])
    assert str(err) == "custom layer refuses this input"


def test_token_ids_out_of_the_embedding_range():
    model = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(5, 2),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    err = check_case(lambda: vis.explain(model, np.array([[1, 2, 9]]), "gradient", 0),
                     (ValueError, None), [model])
    assert "input_dim" in str(err) and "9 is not in [0, 5)" in str(err)


@pytest.mark.parametrize("layers, shape", [
    ([keras.layers.Conv2D(2, 3, activation="relu", data_format="channels_first"),
      keras.layers.MaxPooling2D(2, data_format="channels_first")], (1, 6, 6)),
    ([keras.layers.Conv1D(2, 3, activation="relu", data_format="channels_first")], (1, 8)),
], ids=["conv2d_maxpool", "conv1d"])
@pytest.mark.parametrize("method", ["gradient", "gradcam", "occlusion"])
def test_channels_first_models_work_on_cpu(layers, shape, method):
    """TensorFlow 2.21's CPU build runs channels_first convolutions (Keras transposes them)."""
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input(shape), *[layer.__class__.from_config(layer.get_config())
                                                     for layer in layers],
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    weights = [np.abs(w) + 0.05 for w in model.get_weights()]
    model.set_weights(weights)
    x = np.random.default_rng(7).uniform(0.5, 1.0, size=(2,) + shape).astype("float32")
    options = {"window": 2} if method == "occlusion" else {}
    check_case(lambda: vis.explain(model, x, method, 0, **options), OK, [model])


def _op_error(kind, message):
    return getattr(tf.errors, kind)(None, None, message)


@pytest.mark.parametrize("exc, fragments", [
    (_op_error("UnimplementedError", "The Conv2D op currently only supports the NHWC tensor "
                                     "format on the CPU. The op was given the format: NCHW\n\t "
                                     "[[{{node conv_1/Conv2D}}]]"),
     ["layer 'conv'", "channels_last", "GPU"]),
    (_op_error("ResourceExhaustedError", "OOM when allocating tensor with shape[1000000,1000]"),
     ["`batch_size`"]),
    (_op_error("InvalidArgumentError", "cannot compute MatMul as input #1(zero-based) was "
                                       "expected to be a float tensor but is a int32 tensor"),
     ["dtype"]),
    (_op_error("InvalidArgumentError", "Graph execution error:\n\nDetected at node "
                                       "'dense_3/MatMul' defined at (most recent call last):\n"
                                       "  File \"x.py\", line 1\n\nMatrix size-incompatible"),
     ["layer 'dense'", "Matrix size-incompatible"]),
], ids=["nchw_on_cpu", "out_of_memory", "dtype", "graph_execution_error"])
def test_backend_errors_are_translated(exc, fragments):
    err = backend_error(exc, ["conv", "dense", "out"])
    assert isinstance(err, ValueError)
    assert_clean_message(str(err), None)
    for fragment in fragments:
        assert fragment in str(err), str(err)


def test_other_errors_are_not_translated():
    assert backend_error(RuntimeError("a bug")) is None
    assert backend_error(KeyError("k")) is None


def test_unexpected_dtype_input_is_refused_before_the_model_runs():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    for bad, kind in ((np.array([["a", "b", "c"]]), TypeError),
                      (np.array([[1 + 2j, 0, 0]]), TypeError),
                      (np.array([[1e40, 0, 0]]), ValueError),
                      (np.array([[None, 1, 2]], dtype=object), TypeError)):
        check_case(lambda b=bad: vis.explain(model, b, "gradient", 0), (kind, "inputs"), [model])


def test_a_layer_failing_inside_pss_and_pattern_passes(broken_models):
    """The compiled passes of vis.pss and vis.pattern translate the backend's errors too."""
    from vis.pattern import fit_patterns
    from vis.pss import ParameterSaliency

    model, _, phrase = broken_models["lambda_assert"]
    x, y = np.ones((4, 4), "float32"), np.array([0, 1, 0, 1])
    for call in (lambda: ParameterSaliency(model, include_dense=True).fit(x, y, verbose=False),
                 lambda: fit_patterns(model, x, verbose=False)):
        err = check_case(call, (ValueError, None), [model])
        assert phrase in str(err) and "model.predict" in str(err), str(err)
