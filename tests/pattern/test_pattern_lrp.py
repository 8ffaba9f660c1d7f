"""LRP epsilon and alpha-beta against a NumPy reference; conservation; validation."""

import keras
import numpy as np
import pattern_numpy_reference as ref
import pytest
from conftest import assert_weights_equal, weights_of

from vis.pattern import LRP


@pytest.fixture(scope="module")
def net():
    model, weights = ref.small_net(seed=4)
    x = np.random.default_rng(5).normal(0.1, 1.0, (4, 6, 6, 1)).astype("float32")
    return model, weights, x


@pytest.mark.parametrize("rule, kwargs", [
    ("epsilon", {"epsilon": 1e-7}),
    ("epsilon", {"epsilon": 0.5}),
    ("alpha_beta", {"alpha": 1.0, "beta": 0.0}),
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0}),
])
def test_matches_numpy_reference(net, rule, kwargs):
    model, weights, x = net
    idx = np.array([0, 2, 1, 2])
    got = LRP(model, rule, **kwargs).explain(x, idx)
    ref_kwargs = {"eps": kwargs.get("epsilon", 1e-7), "alpha": kwargs.get("alpha", 1.0),
                  "beta": kwargs.get("beta", 0.0)}
    expected = np.stack([ref.lrp(x[i].astype("float64"), weights, idx[i], rule, **ref_kwargs)
                         for i in range(len(x))])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_epsilon_conserves_relevance_without_biases():
    model, weights = ref.small_net(seed=6, bias=False)
    x = np.random.default_rng(7).normal(0.3, 1.0, (6, 6, 6, 1)).astype("float32")
    logits = np.asarray(model(x), dtype="float64")
    for k in range(3):
        relevance = LRP(model, "epsilon", epsilon=1e-9).explain(x, k)
        np.testing.assert_allclose(relevance.reshape(len(x), -1).sum(axis=1), logits[:, k],
                                   rtol=1e-4, atol=1e-6)


def test_alpha1_beta0_relevance_is_positive_for_positive_inputs_and_logit():
    model, _ = ref.small_net(seed=8, bias=False)
    x = np.abs(np.random.default_rng(9).normal(size=(4, 6, 6, 1))).astype("float32")
    logits = np.asarray(model(x))
    k = int(np.argmax(logits[0]))
    assert logits[0, k] > 0
    relevance = LRP(model, "alpha_beta").explain(x[:1], k)
    assert np.all(relevance >= 0) and relevance.sum() > 0


def test_single_dense_epsilon_closed_form():
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)])
    w, b = rng.normal(size=(5, 2)).astype("float32"), rng.normal(size=2).astype("float32")
    model.set_weights([w, b])
    x = rng.normal(size=(3, 5)).astype("float32")
    z = x.astype("float64") @ w + b
    got = LRP(model, epsilon=0.1).explain(x, 1)
    expected = x * w[:, 1] * (z[:, 1] / (z[:, 1] + 0.1 * np.where(z[:, 1] >= 0, 1, -1)))[:, None]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_model_not_modified_and_parameters_validated(net):
    model, _, x = net
    before, out = weights_of(model), np.asarray(model(x))
    LRP(model, "alpha_beta", alpha=2, beta=1).explain(x, 0)
    assert_weights_equal(model, before)
    np.testing.assert_array_equal(np.asarray(model(x)), out)
    with pytest.raises(ValueError, match="epsilon"):
        LRP(model, "epsilon", epsilon=0.0)
    with pytest.raises(ValueError, match="alpha - beta = 1"):
        LRP(model, "alpha_beta", alpha=2, beta=0)
    with pytest.raises(ValueError, match="rule"):
        LRP(model, "z_plus")
    avg = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.AveragePooling2D(2, name="avg"),
                            keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="'avg'.*AveragePooling2D"):
        LRP(avg).explain(np.zeros((1, 4, 4, 1), "float32"), 0)
