"""Softmax outputs: the regime is the pre-softmax value > 0 (softmax(z) > 0 always holds).

A model and the same model with a softmax output (fused, `Activation('softmax')` or a `Softmax`
layer) must give identical patterns for every estimator, identical signal quality and identical
PatternNet maps (which explain the pre-softmax logit).
"""

import keras
import numpy as np
import pattern_numpy_reference as ref
import pytest

from vis.pattern import PatternNet, _layers, fit_patterns, signal_quality


def _build(head: str) -> keras.Model:
    inp = keras.Input((5,))
    h = keras.layers.Dense(4, activation="relu", name="h")(inp)
    if head == "linear":
        out = keras.layers.Dense(3, name="o")(h)
    elif head == "fused":
        out = keras.layers.Dense(3, activation="softmax", name="o")(h)
    elif head == "activation":
        z = keras.layers.Dense(3, name="o")(h)
        out = keras.layers.Activation("softmax", name="sm")(keras.layers.Dropout(0.5)(z))
    else:
        out = keras.layers.Softmax(name="sm")(keras.layers.Dense(3, name="o")(h))
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(0)
    built = {head: _build(head) for head in ("linear", "fused", "activation", "layer")}
    weights = [rng.normal(size=w.shape).astype("float32")
               for w in built["linear"].get_weights()]
    for model in built.values():
        model.set_weights(weights)
    x = rng.normal(size=(400, 5)).astype("float32")
    return built, x


def test_regime_sources_are_pre_softmax(models):
    built, _ = models
    assert _layers.mask_sources(built["linear"])["o"] == ("o", "out")
    assert _layers.mask_sources(built["fused"])["o"] == ("o", "pre")
    assert _layers.mask_sources(built["activation"])["o"] == ("sm", "in")
    assert _layers.mask_sources(built["layer"])["o"] == ("sm", "in")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_models_give_the_linear_models_patterns(models, dtype):
    built, x = models
    estimators = ("filter", "linear", "two_component") if dtype == "float64" else (
        "two_component",)
    fits = {head: {est: fit_patterns(model, x, est, batch_size=128, verbose=False, dtype=dtype,
                                     negative=True)
                   for est in estimators}
            for head, model in built.items()}
    for head in ("fused", "activation", "layer"):
        for est, expected in fits["linear"].items():
            got = fits[head][est]
            for name in expected:
                np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, atol=0)
            if est == "two_component":
                for name in expected:
                    np.testing.assert_allclose(got.negative[name], expected.negative[name],
                                               rtol=1e-12, atol=0)
    # and the output layer's two-component pattern is the pre-softmax regime's, not S_a
    w = np.asarray(built["linear"].get_layer("o").kernel, "float64")
    hidden = np.asarray(keras.Model(built["linear"].input,
                                    built["linear"].get_layer("h").output)(x), "float64")
    logits = hidden @ w + np.asarray(built["linear"].get_layer("o").bias, "float64")
    two = fits["fused"]["two_component"]["o"]
    np.testing.assert_allclose(two, ref.patterns(hidden, w, logits, "pos"), rtol=1e-5, atol=1e-7)
    if "linear" in fits["fused"]:
        assert not np.allclose(two, fits["fused"]["linear"]["o"], rtol=1e-3)


def test_signal_quality_and_patternnet_match(models):
    built, x = models
    fitted = {head: fit_patterns(model, x, verbose=False, dtype="float64", negative=True)
              for head, model in built.items()}
    rho = {head: signal_quality(model, x, patterns=fitted[head], verbose=False)
           for head, model in built.items()}
    maps = {head: PatternNet(model, fitted[head]).explain(x[:4], 1)
            for head, model in built.items()}
    for head in ("fused", "activation", "layer"):
        for name, value in rho["linear"].items():
            assert rho[head][name] == pytest.approx(value, abs=1e-12)
        np.testing.assert_allclose(maps[head], maps["linear"], rtol=1e-6, atol=1e-7)
