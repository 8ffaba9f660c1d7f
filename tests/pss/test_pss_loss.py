"""The per-sample cross-entropy: softmax detection, logits, probabilities and custom losses."""

import keras
import numpy as np
import pytest
from pss_testing import assert_close_1e6, random_data

from vis.pss import ParameterSaliency, switch_off_experiment


def _pair(head: str, scale: float = 1.0):
    """A logits model and the same network with a softmax head of kind `head`."""
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv",
                            kernel_initializer=init(1), bias_initializer="ones")(inputs)
    h = keras.layers.Flatten()(h)
    logits = keras.layers.Dense(4, name="head", kernel_initializer=init(2))(h)
    logits_model = keras.Model(inputs, logits)
    logits_model.get_layer("head").kernel.assign(logits_model.get_layer("head").kernel * scale)
    if head == "fused":
        out = keras.layers.Dense(4, activation="softmax", name="head")(h)
        model = keras.Model(inputs, out)
        model.set_weights(logits_model.get_weights())
        return logits_model, model
    if head == "softmax_layer":
        out = keras.layers.Softmax()(logits)
    elif head == "activation_layer":
        out = keras.layers.Activation("softmax")(logits)
    elif head == "lambda":
        out = keras.layers.Lambda(lambda t: keras.ops.softmax(t))(logits)
    elif head == "ops_softmax":
        out = keras.ops.softmax(logits)
    elif head == "softmax_then_identity":
        out = keras.layers.Identity()(keras.layers.Activation("softmax")(logits))
    elif head == "softmax_then_linear_dropout":
        out = keras.layers.Dropout(0.5)(keras.layers.Activation("linear")(
            keras.layers.Softmax()(logits)))
    elif head == "nested_sequential_softmax":
        out = keras.Sequential([keras.Input((4,)), keras.layers.Softmax()])(logits)
    elif head == "ops_sigmoid":
        out = keras.ops.sigmoid(logits)
    elif head == "layer_norm":
        out = keras.layers.LayerNormalization()(logits)
    elif head == "sequential":
        model = keras.Sequential([
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(3, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, activation="softmax", name="head"),
        ])
        model.set_weights(logits_model.get_weights())
        return logits_model, model
    return logits_model, keras.Model(inputs, out)


@pytest.fixture(scope="module")
def data():
    return random_data((6, 6, 1), 6, n_classes=4, seed=11)


@pytest.mark.parametrize("head", ["fused", "softmax_layer", "activation_layer", "sequential"])
def test_auto_uses_the_logits_of_a_softmax_model(data, head):
    x, y = data
    logits_model, model = _pair(head)
    psal = ParameterSaliency(model)
    assert psal.outputs == "probabilities"
    expected = ParameterSaliency(logits_model).filter_saliency(x, y)
    assert ParameterSaliency(logits_model).outputs == "logits"
    assert_close_1e6(psal.filter_saliency(x, y), expected)


def test_saturated_softmax_stays_exact(data):
    """Logits of ~1e3: log(softmax) underflows to -inf in float32, the logits path does not."""
    x, y = data
    logits_model, model = _pair("fused", scale=300.0)
    probabilities = model.predict(x, verbose=0)
    assert (probabilities[np.arange(len(y)), y] == 0).any()  # log(p) would be -inf
    saliency = ParameterSaliency(model).filter_saliency(x, y)
    assert np.all(np.isfinite(saliency))
    assert_close_1e6(saliency, ParameterSaliency(logits_model).filter_saliency(x, y))


def test_probabilities_override_for_an_undetectable_softmax(data):
    x, y = data
    logits_model, model = _pair("lambda")
    psal = ParameterSaliency(model, loss="probabilities")
    expected = ParameterSaliency(logits_model).filter_saliency(x, y)
    np.testing.assert_allclose(psal.filter_saliency(x, y), expected, rtol=1e-4,
                               atol=1e-5 * np.abs(expected).max())


class _Opaque(keras.layers.Layer):
    """A custom layer holding a Python function: it has no config to be re-created from."""

    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self.fn = fn

    def call(self, inputs):
        return self.fn(inputs)


def test_uncopyable_softmax_model_falls_back_to_probabilities_with_a_warning(data):
    x, y = data
    logits_model, _ = _pair("fused")
    inputs = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inputs)
    h = _Opaque(lambda t: t * 1.0)(keras.layers.Flatten()(h))
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="head")(h))
    model.set_weights(logits_model.get_weights())
    with pytest.warns(UserWarning, match="cannot be dropped"):
        psal = ParameterSaliency(model)
    assert psal.method == "vmap" and psal.outputs == "probabilities"
    expected = ParameterSaliency(logits_model).filter_saliency(x, y)
    np.testing.assert_allclose(psal.filter_saliency(x, y), expected, rtol=1e-4,
                               atol=1e-5 * np.abs(expected).max())


def test_a_lambda_layer_does_not_break_the_copy_of_a_saturated_softmax_model(data):
    """Review defect 3: a Lambda layer made the copy fail; the clipped log(p) fallback then gave
    zero saliency to confidently misclassified samples. The copy now keeps the logits."""
    x, y = data
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv", kernel_initializer=init(1),
                            bias_initializer="ones")(inputs)
    h = keras.layers.Lambda(lambda t: t * 1.0)(keras.layers.Flatten()(h))
    logits = keras.layers.Dense(4, name="head", kernel_initializer=init(2))(h)
    model = keras.Model(inputs, keras.layers.Activation("softmax")(logits))
    model.get_layer("head").kernel.assign(model.get_layer("head").kernel * 300.0)
    probabilities = model.predict(x, verbose=0)[np.arange(len(y)), y]
    assert (probabilities == 0).any()  # confidently wrong: the clipped fallback gives 0 here
    psal = ParameterSaliency(model)  # no fallback warning (warnings are errors)
    assert psal.method == "patches" and psal.outputs == "probabilities"
    expected = ParameterSaliency(keras.Model(inputs, logits)).filter_saliency(x, y)
    saliency = psal.filter_saliency(x, y)
    assert np.all(saliency[probabilities == 0].max(axis=1) > 1.0)
    assert_close_1e6(saliency, expected)


@pytest.mark.parametrize("head, method", [("ops_softmax", "patches"), ("ops_softmax", "vmap"),
                                          ("softmax_then_identity", "patches"),
                                          ("softmax_then_linear_dropout", "vmap"),
                                          ("nested_sequential_softmax", "patches")])
def test_auto_finds_the_softmax_behind_ops_and_pass_through_layers(data, head, method):
    """Review defect 2: the output node (not `model.layers[-1]`) decides, through Identity,
    Dropout, Activation('linear') and nested models; `keras.ops.softmax` is a softmax."""
    x, y = data
    logits_model, model = _pair(head)
    psal = ParameterSaliency(model, gradient_method=method)
    assert psal.outputs == "probabilities"
    assert_close_1e6(psal.filter_saliency(x, y),
                     ParameterSaliency(logits_model).filter_saliency(x, y))


@pytest.mark.parametrize("head, culprit", [("lambda", "Lambda layer"),
                                           ("ops_sigmoid", "Sigmoid op"),
                                           ("layer_norm", "LayerNormalization layer")])
def test_auto_rejects_outputs_it_cannot_classify(head, culprit):
    """Review defect 2: unknown output operations used to be taken for logits silently."""
    _, model = _pair(head)
    with pytest.raises(ValueError, match=f"produced by {culprit}.*loss='logits'.*"
                                         "loss='probabilities'"):
        ParameterSaliency(model)
    assert ParameterSaliency(model, loss="probabilities").outputs == "probabilities"
    assert ParameterSaliency(model, loss="logits").outputs == "logits"


def test_switch_off_does_not_apply_a_second_softmax_to_an_ops_softmax_output(data):
    x, y = data
    _, model = _pair("ops_softmax")
    psal = ParameterSaliency(model).fit(x, y, verbose=False)
    result = switch_off_experiment(model, psal, x, y, k=1, n_random=1, misclassified_only=False)
    expected = model.predict(x, verbose=0)[np.arange(len(y)), y]
    np.testing.assert_allclose(result.p_before, expected, rtol=1e-5)


def test_callable_loss_is_applied_per_sample(data):
    x, y = data
    logits_model, model = _pair("fused")
    expected = ParameterSaliency(logits_model).filter_saliency(x, y)

    def doubled(y_true, y_pred):
        return 2.0 * keras.losses.sparse_categorical_crossentropy(y_true, y_pred)

    psal = ParameterSaliency(model, loss=doubled)
    assert psal.outputs == "unknown"
    # |d(2L)/dW| = 2 |dL/dW|; the callable sees probabilities (float32 log: looser tolerance).
    np.testing.assert_allclose(psal.filter_saliency(x, y), 2 * expected, rtol=1e-4,
                               atol=1e-5 * np.abs(expected).max())


def test_callable_loss_returning_a_batch_mean_is_rejected(data):
    x, y = data
    _, model = _pair("fused")
    psal = ParameterSaliency(model, loss=lambda t, p: keras.ops.mean(
        keras.losses.sparse_categorical_crossentropy(t, p)))
    with pytest.raises(ValueError, match="one loss per sample"):
        psal.filter_saliency(x, y)


def test_explicit_logits_is_respected(data):
    x, y = data
    logits_model, _ = _pair("fused")
    a = ParameterSaliency(logits_model, loss="logits").filter_saliency(x, y)
    np.testing.assert_array_equal(a, ParameterSaliency(logits_model).filter_saliency(x, y))


def test_auto_rejects_an_unknown_output_activation():
    inputs = keras.Input((6, 6, 1))
    h = keras.layers.Flatten()(keras.layers.Conv2D(2, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="sigmoid", name="out")(h))
    with pytest.raises(ValueError, match="'sigmoid'.*loss='logits'"):
        ParameterSaliency(model)
    ParameterSaliency(model, loss="probabilities")  # explicit choice is accepted


def test_unknown_loss_name_is_rejected():
    _, model = _pair("fused")
    with pytest.raises(ValueError, match="received loss='hinge'"):
        ParameterSaliency(model, loss="hinge")
