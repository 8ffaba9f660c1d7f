"""signal_quality: closed forms on the paper's toy problem, in-sample identity, NumPy regression."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from vis.pattern import fit_patterns, signal_quality


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    n = 4000
    s, d = rng.normal(size=n), rng.normal(size=n)
    x = (np.outer(s, [1.0, 0.0]) + np.outer(d, [1.0, 1.0])).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False, name="w")])
    model.set_weights([np.array([[1.0], [-1.0]], "float32")])
    return model, x


def test_toy_problem_ranks_estimators(toy):
    model, x = toy
    rho = {est: signal_quality(model, x, est, verbose=False)["w"]
           for est in ("filter", "linear", "two_component")}
    # S_w leaves d = (s/2, s/2) + a_d d in the distractor: rho = 1 - corr(s, s/2 + d) = 1 - 1/sqrt(5)
    assert rho["filter"] == pytest.approx(1 - 1 / np.sqrt(5), abs=0.03)
    assert rho["linear"] > 0.95 and rho["two_component"] > 0.95
    assert min(rho["linear"], rho["two_component"]) > rho["filter"] + 0.3


def test_in_sample_linear_estimator_scores_exactly_one(toy):
    model, x = toy
    assert signal_quality(model, x, "linear", holdout=0, verbose=False)["w"] == pytest.approx(
        1.0, abs=1e-9)


def test_in_sample_linear_is_one_on_a_cnn():
    inp = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="c")(inp)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(2, name="o")(h)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    x = rng.random((150, 6, 6, 1)).astype("float32")
    rho = signal_quality(model, x, "linear", holdout=0, batch_size=7, verbose=False)
    assert set(rho) == {"c", "o"}
    for value in rho.values():
        assert value == pytest.approx(1.0, abs=1e-7)
    only = signal_quality(model, x, "filter", verbose=False, layers=["c"])
    assert list(only) == ["c"] and 0 <= only["c"] < 1
    with pytest.raises(ValueError, match="valid"):
        signal_quality(model, x, "filter", verbose=False, layers=["nope"])


def _numpy_rho(x, w, a_pos, a_neg, mask):
    """1 - corr(y, fitted y) of a least-squares regression of y on x - S(x), with intercept."""
    y = x @ w
    signal = np.where(mask[:, None], np.outer(y, a_pos), np.outer(y, a_neg))
    d = x - signal
    design = np.column_stack([np.ones(len(d)), d])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return 1 - np.corrcoef(y, design @ coef)[0, 1]


def test_matches_numpy_regression_on_held_out_data():
    rng = np.random.default_rng(2)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="relu",
                                                                     name="d")])
    model.set_weights([rng.normal(size=(6, 3)).astype("float32"),
                       np.array([0.2, -0.1, 0.0], "float32")])
    mix = rng.normal(size=(6, 6))
    x = (rng.normal(size=(600, 6)) @ mix + 0.5).astype("float32")
    fit_x, eval_x = x[:300], x[300:]
    patterns = fit_patterns(model, fit_x, "two_component", dtype="float64", negative=True,
                            verbose=False)
    got = signal_quality(model, eval_x, patterns=patterns, verbose=False)["d"]
    assert got == pytest.approx(signal_quality(model, x, "two_component", verbose=False)["d"],
                                abs=1e-12)
    w = np.asarray(model.get_weights()[0], "float64")
    z = np.asarray(model(eval_x), "float64")
    xe = eval_x.astype("float64")
    expected = np.mean([_numpy_rho(xe, w[:, j], patterns["d"][:, j], patterns.negative["d"][:, j],
                                   z[:, j] > 0) for j in range(3)])
    assert got == pytest.approx(expected, abs=1e-8)
    linear = fit_patterns(model, fit_x, "linear", dtype="float64", verbose=False)
    expected_linear = np.mean([_numpy_rho(xe, w[:, j], linear["d"][:, j], linear["d"][:, j],
                                          z[:, j] > 0) for j in range(3)])
    assert signal_quality(model, eval_x, patterns=linear, verbose=False)["d"] == pytest.approx(
        expected_linear, abs=1e-8)


def test_dataset_input_and_errors(toy):
    model, x = toy
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).batch(500)
    from_ds = signal_quality(model, ds, "linear", verbose=False)["w"]
    assert from_ds == pytest.approx(signal_quality(model, x, "linear", verbose=False)["w"],
                                    abs=1e-12)
    with pytest.raises(ValueError, match="exactly one"):
        signal_quality(model, x, verbose=False)
    with pytest.raises(ValueError, match="holdout"):
        signal_quality(model, x, "linear", holdout=1.0, verbose=False)
    with pytest.raises(ValueError, match="unknown size"):
        signal_quality(model, ds.filter(lambda a, b: True), "linear", verbose=False)
    patterns = fit_patterns(model, x, "linear", verbose=False)
    with pytest.raises(ValueError, match="negative=True"):
        signal_quality(model, x, patterns=fit_patterns(model, x, verbose=False), verbose=False)
    other = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="w")])
    with pytest.raises(ValueError, match="'w'"):
        signal_quality(other, x, patterns=patterns, verbose=False)
