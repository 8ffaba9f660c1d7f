"""Default randomization steps skip statistics-only layers (regression: an adapted Normalization
failed at the last step), and every step is checked before any map is computed."""

import keras
import numpy as np
import pytest
from conftest import assert_weights_equal, weights_of

from vis.sanity import model_randomization_test, randomization_steps, reinitialize_layer


@pytest.fixture(scope="module")
def norm_model():
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(8, 8, 8, 1)).astype("float32")
    norm = keras.layers.Normalization(name="norm")
    norm.adapt(x)
    init = keras.initializers.GlorotUniform
    inp = keras.Input((8, 8, 1))
    h = norm(inp)
    h = keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer=init(0), name="conv")(h)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(3, kernel_initializer=init(1), name="head")(h)
    return keras.Model(inp, out), x, np.arange(8) % 3


class _Spy:
    """An explainer (the input itself) that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, model, x, y):
        self.calls += 1
        return x


def test_default_steps_skip_normalization_statistics(norm_model):
    model, x, y = norm_model
    assert [name for name, _ in randomization_steps(model)] == ["head", "bn", "conv"]
    before = weights_of(model)
    result = model_randomization_test(model, x, y, "gradient", metrics=("spearman",),
                                      verbose=False)
    assert result.steps == ["head", "bn", "conv"]
    assert np.all(np.isfinite(result.scores["spearman"]))
    assert_weights_equal(model, before)
    # The adapted statistics are kept; BatchNormalization's moving statistics are re-drawn.
    bn = model.get_layer("bn")
    gamma, beta, mean, var = reinitialize_layer(bn, 0, "bn")
    np.testing.assert_array_equal(gamma, 1.0)
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_array_equal(var, 1.0)


def test_frozen_layers_are_still_randomized():
    inp = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(2, 3, name="frozen")
    h = keras.layers.Flatten()(conv(inp))
    model = keras.Model(inp, keras.layers.Dense(2, name="head")(h))
    conv.trainable = False
    assert [name for name, _ in randomization_steps(model)] == ["head", "frozen"]


def test_a_step_that_cannot_be_reinitialized_fails_before_any_map(norm_model):
    model, x, y = norm_model
    before = weights_of(model)
    spy = _Spy()
    with pytest.raises(ValueError, match="norm/mean.*reinitialize="):
        model_randomization_test(model, x, y, spy, layers=["head", "conv", "norm"],
                                 metrics=("spearman",), verbose=False)
    assert spy.calls == 0
    assert_weights_equal(model, before)

    def bad_last_step(layer):  # wrong shapes for the last step only
        weights = layer.get_weights()
        return [np.zeros(3)] if layer.name == "conv" else [np.zeros_like(w) for w in weights]

    with pytest.raises(ValueError, match="shapes"):
        model_randomization_test(model, x, y, spy, reinitialize=bad_last_step,
                                 metrics=("spearman",), verbose=False)
    assert spy.calls == 0
    assert_weights_equal(model, before)


def test_statistics_layer_can_be_randomized_with_a_custom_reinitialize(norm_model):
    model, x, y = norm_model

    def standard(layer):
        if layer.name == "norm":  # mean 0, variance 1: the identity normalization
            return [np.zeros_like(w) if i == 0 else np.ones_like(w)
                    for i, w in enumerate(layer.get_weights())]
        return reinitialize_layer(layer, 0, layer.name)

    seen = []

    def spy(m, xb, yb):
        seen.append(m.get_layer("norm").get_weights())
        return xb

    result = model_randomization_test(model, x, y, spy, layers=["norm"], reinitialize=standard,
                                      metrics=("spearman",), verbose=False)
    assert result.steps == ["norm"]
    trained = model.get_layer("norm").get_weights()
    for got, want in zip(seen[0], trained):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(seen[1][0], 0.0)
    np.testing.assert_array_equal(seen[1][1], 1.0)
