"""Estimator formulas from shifted float64 sums; Patterns container validation."""

import numpy as np
import pattern_numpy_reference as ref
import pytest

from vis.pattern import Patterns, get_estimator
from vis.pattern.estimators import LayerStats, estimate, filter_pattern


def _stats(x, w, mask, c, d):
    y = x @ w
    xc, yc = x - c, y - d
    m = mask.astype("float64")
    stats = LayerStats(c=c, d=d)
    half = len(x) // 2
    for part in (slice(0, half), slice(half, None)):  # two batches
        stats.add({"n": float(len(xc[part])), "sx": xc[part].sum(0), "sy": yc[part].sum(0),
                   "sxy": xc[part].T @ yc[part], "n_pos": m[part].sum(0),
                   "bx_pos": xc[part].T @ m[part], "axy_pos": xc[part].T @ (yc[part] * m[part]),
                   "cy_pos": (yc[part] * m[part]).sum(0)})
    return stats


@pytest.mark.parametrize("shift", [0.0, 3.0, -50.0])
def test_formulas_are_shift_invariant_and_match_reference(shift):
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 1.0, (300, 4))
    w = rng.normal(size=(4, 3))
    mask = (x @ w) > np.median(x @ w, axis=0)
    mask[:, 2] = False  # a neuron never active
    c = np.full(4, shift)
    d = np.full(3, -shift)
    stats = _stats(x, w, mask, c, d)
    linear, none = estimate("linear", w, stats)
    assert none is None
    np.testing.assert_allclose(linear, ref.patterns(x, w), rtol=1e-10, atol=1e-12)
    pos, neg = estimate("two_component", w, stats, negative=True)
    np.testing.assert_allclose(pos, ref.patterns(x, w, mask, "pos"), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(neg, ref.patterns(x, w, mask, "neg"), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(pos[:, 2], 0.0)
    np.testing.assert_allclose(np.sum(w * pos, 0)[:2], 1.0)


def test_filter_pattern_and_names():
    w = np.array([[1.0, 0.0], [-1.0, 0.0]])
    np.testing.assert_allclose(filter_pattern(w), [[0.5, 0.0], [-0.5, 0.0]])
    assert get_estimator("relu") == "two_component"
    assert get_estimator("linear") == "linear"
    with pytest.raises(ValueError, match="two_component"):
        get_estimator("pca")


def test_patterns_container_validates():
    p = Patterns({"a": np.ones((2, 3))}, "linear")
    assert len(p) == 1 and list(p) == ["a"] and "linear" in repr(p)
    with pytest.raises(ValueError):
        p["a"][0, 0] = 2.0
    assert Patterns({"a": np.ones((2, 3))}, "linear").digest == p.digest
    assert Patterns({"a": np.ones((2, 3)) * 2}, "linear").digest != p.digest
    with pytest.raises(ValueError, match="finite"):
        Patterns({"a": np.full((2, 2), np.nan)}, "linear")
    with pytest.raises(TypeError, match="mapping"):
        Patterns([np.ones((2, 2))], "linear")
    with pytest.raises(ValueError, match="negative"):
        Patterns({"a": np.ones((2, 3))}, "two_component", negative={"a": np.ones((3, 3))})
