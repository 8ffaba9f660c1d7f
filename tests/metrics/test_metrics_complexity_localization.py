"""Sparseness (Gini), complexity (entropy), pointing game and relevance mass on known maps."""

import numpy as np
import pytest
from scipy.stats import entropy

from vis.metrics import complexity, gini, pointing_game, relevance_mass, sparseness


def gini_by_pairs(a):
    """The Gini index as the mean absolute difference over all pairs, halved and scaled."""
    a = np.abs(a.ravel()).astype("float64")
    return np.abs(a[:, None] - a[None, :]).sum() / (2 * a.size * a.sum())


def test_sparseness_equals_the_gini_formula():
    maps = np.random.default_rng(0).normal(size=(5, 6, 7, 2))
    got = sparseness(maps)
    a = np.sort(np.abs(maps.reshape(5, -1)), axis=1)
    n = a.shape[1]
    i = np.arange(1, n + 1)
    want = ((2 * i - n - 1) * a).sum(axis=1) / (n * a.sum(axis=1))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got, [gini_by_pairs(m) for m in maps], rtol=1e-12)
    np.testing.assert_allclose(sparseness(3.5 * maps), got, rtol=1e-12)  # scale-free
    np.testing.assert_allclose(sparseness(maps, channel_axis=-1),
                               [gini_by_pairs(m.sum(axis=-1)) for m in maps], rtol=1e-12)


@pytest.mark.parametrize("n", [2, 10, 64])
def test_one_hot_constant_and_zero_maps(n):
    one_hot = np.zeros((2, n))
    one_hot[0, n // 2] = 1.0
    one_hot[1, 0] = -7.0  # |phi|: the sign does not matter
    np.testing.assert_allclose(sparseness(one_hot), (n - 1) / n, rtol=1e-12)
    np.testing.assert_allclose(complexity(one_hot), 0.0, atol=1e-12)
    const = np.full((1, n), 0.3)
    np.testing.assert_allclose(sparseness(const), 0.0, atol=1e-12)
    np.testing.assert_allclose(complexity(const), np.log(n), rtol=1e-12)
    zero = np.zeros((1, n))  # no pixel singled out: treated as a constant map
    np.testing.assert_array_equal(sparseness(zero), 0.0)
    np.testing.assert_allclose(complexity(zero), np.log(n), rtol=1e-12)


def test_complexity_equals_the_entropy_of_normalized_absolute_maps():
    maps = np.random.default_rng(1).normal(size=(4, 9, 9))
    maps[0, :4] = 0.0  # zeros contribute 0 log 0 = 0
    want = [entropy(np.abs(m.ravel())) for m in maps]
    np.testing.assert_allclose(complexity(maps), want, rtol=1e-12)
    assert np.all(complexity(maps) <= np.log(81) + 1e-12)


def test_gini_helper_and_errors():
    np.testing.assert_allclose(gini(np.array([[0.0, 0.0, 0.0, 1.0], [1, 1, 1, 1]])), [0.75, 0])
    with pytest.raises(ValueError, match="batch of maps"):
        sparseness(np.ones(5))
    with pytest.raises(ValueError, match="NaN or inf"):
        complexity(np.array([[1.0, np.inf]]))
    with pytest.raises(ValueError, match="`channel_axis`=0"):
        sparseness(np.ones((2, 3, 3)), channel_axis=0)
    with pytest.raises(TypeError, match="real numbers"):
        sparseness(np.array([["a", "b"]]))


def test_pointing_game_and_relevance_mass():
    maps = np.array([[[0.1, 0.9], [0.0, -2.0]],
                     [[3.0, 0.0], [1.0, 1.0]],
                     [[0.5, 0.5], [0.5, 0.5]]])
    masks = np.array([[[False, True], [False, False]],
                      [[False, True], [True, True]],
                      [[False, False], [True, True]]])
    np.testing.assert_array_equal(pointing_game(maps, masks), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(pointing_game(maps, masks, absolute=True), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(relevance_mass(maps, masks), [0.9, 2 / 5, 0.5])
    np.testing.assert_allclose(relevance_mass(maps, masks, absolute=True), [0.9 / 3, 0.4, 0.5])
    np.testing.assert_array_equal(relevance_mass(-np.abs(maps), masks), 0.0)  # no positive mass
    np.testing.assert_array_equal(pointing_game(maps, masks.astype(int)),
                                  pointing_game(maps, masks))
    # maps with a channel axis: summed; masks with it: reduced with "any"
    rgb = np.repeat(maps[..., None] / 3, 3, axis=-1)
    np.testing.assert_allclose(relevance_mass(rgb, masks, channel_axis=-1),
                               relevance_mass(maps, masks))
    np.testing.assert_allclose(
        relevance_mass(rgb, np.repeat(masks[..., None], 3, axis=-1), channel_axis=-1),
        relevance_mass(maps, masks))


def test_localization_errors():
    maps = np.zeros((2, 3, 3))
    with pytest.raises(ValueError, match="`masks` has shape"):
        pointing_game(maps, np.ones((2, 3, 4), dtype=bool))
    with pytest.raises(ValueError, match="boolean"):
        relevance_mass(maps, np.full((2, 3, 3), 0.5))
    empty = np.ones((2, 3, 3), dtype=bool)
    empty[1] = False
    with pytest.raises(ValueError, match=r"no position for sample\(s\) \[1\]"):
        relevance_mass(maps, empty)
