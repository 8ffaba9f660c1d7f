"""Similarity metrics of vis.sanity against scipy / scikit-image called directly, map by map."""

import numpy as np
import pytest
from scipy import stats
from skimage.feature import hog as sk_hog
from skimage.metrics import structural_similarity

from vis.sanity import _image_metrics, metrics


def _maps(seed, shape=(6, 8, 8, 3)):
    return np.random.default_rng(seed).normal(size=shape)


def _minmax(m):
    return (m - m.min()) / (m.max() - m.min())


def test_spearman_matches_scipy_per_map():
    a, b = _maps(0), _maps(1)
    b[:, :4] = a[:, :4]  # some correlation
    got = metrics.spearman(a, b, channel_axis=-1)
    want = [stats.spearmanr(a[i].sum(-1).ravel(), b[i].sum(-1).ravel()).statistic
            for i in range(len(a))]
    np.testing.assert_allclose(got, want, atol=1e-12)
    got_abs = metrics.spearman_abs(a, b, channel_axis=-1)
    want_abs = [stats.spearmanr(np.abs(a[i]).sum(-1).ravel(), np.abs(b[i]).sum(-1).ravel()).statistic
                for i in range(len(a))]
    np.testing.assert_allclose(got_abs, want_abs, atol=1e-12)


def test_spearman_with_ties_matches_scipy():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, size=(5, 40)).astype(float)
    b = rng.integers(0, 4, size=(5, 40)).astype(float)
    want = [stats.spearmanr(a[i], b[i]).statistic for i in range(5)]
    np.testing.assert_allclose(metrics.spearman_rows(a, b), want, atol=1e-12)


def test_sign_flip_separates_signed_and_absolute_spearman():
    a = _maps(2)
    np.testing.assert_allclose(metrics.spearman(a, -a, channel_axis=-1), -1.0)
    np.testing.assert_allclose(metrics.spearman_abs(a, -a, channel_axis=-1), 1.0)


def test_channel_axis_first_equals_last():
    a, b = _maps(4), _maps(5)
    first_a, first_b = np.moveaxis(a, -1, 1), np.moveaxis(b, -1, 1)
    for name in metrics.names():
        fn = metrics.get(name)
        np.testing.assert_allclose(fn(a, b, channel_axis=-1), fn(first_a, first_b, channel_axis=1),
                                   atol=1e-12, err_msg=name)


def test_ssim_matches_skimage_on_scaled_maps():
    a, b = _maps(6), _maps(7)
    got = metrics.ssim(a, b, channel_axis=-1)
    want = [structural_similarity(_minmax(a[i].sum(-1)), _minmax(b[i].sum(-1)), data_range=1.0)
            for i in range(len(a))]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_hog_matches_skimage_then_spearman():
    a, b = _maps(8, (4, 30, 30)), _maps(9, (4, 30, 30))
    got = metrics.hog(a, b)
    want = []
    for i in range(len(a)):
        fa = sk_hog(_minmax(a[i]), pixels_per_cell=(8, 8), cells_per_block=(3, 3))
        fb = sk_hog(_minmax(b[i]), pixels_per_cell=(8, 8), cells_per_block=(3, 3))
        want.append(stats.spearmanr(fa, fb).statistic)
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_hog_small_maps_use_smaller_cells():
    a, b = _maps(10, (3, 8, 8)), _maps(11, (3, 8, 8))
    fa = sk_hog(_minmax(a[0]), pixels_per_cell=(2, 2), cells_per_block=(3, 3))
    fb = sk_hog(_minmax(b[0]), pixels_per_cell=(2, 2), cells_per_block=(3, 3))
    np.testing.assert_allclose(metrics.hog(a, b)[0], stats.spearmanr(fa, fb).statistic, atol=1e-12)


def test_identical_maps_score_one():
    a = _maps(12)
    for name in metrics.names():
        np.testing.assert_allclose(metrics.get(name)(a, a.copy(), channel_axis=-1), 1.0,
                                   atol=1e-12, err_msg=name)


def test_constant_maps_give_documented_finite_values():
    zeros = np.zeros((3, 8, 8))
    fives = np.full((3, 8, 8), 5.0)
    other = _maps(13, (3, 8, 8))
    for name in metrics.names():
        fn = metrics.get(name)
        both = fn(zeros, fives)
        one = fn(zeros, other)
        assert np.all(np.isfinite(both)) and np.all(np.isfinite(one)), name
        np.testing.assert_allclose(both, 1.0, err_msg=name)  # all ties in both maps
    for name in ("spearman", "spearman_abs", "hog"):
        np.testing.assert_allclose(metrics.get(name)(zeros, other), 0.0, err_msg=name)
    assert np.all(np.abs(metrics.ssim(zeros, other)) < 0.2)


def test_registry_and_errors():
    saved = metrics.REGISTRY.snapshot()  # register() is global
    try:
        _check_registry_and_errors()
    finally:
        metrics.REGISTRY.restore(saved)


def _check_registry_and_errors():
    assert metrics.get("ssim") is metrics.ssim
    with pytest.raises(ValueError, match="Valid names.*hog"):
        metrics.get("pearson_typo")
    with pytest.raises(TypeError):
        metrics.get(3)

    def pearson(a, b, channel_axis=None):
        return np.array([np.corrcoef(u.ravel(), v.ravel())[0, 1] for u, v in zip(a, b)])

    metrics.register("pearson_test", pearson)
    assert metrics.get("pearson_test") is pearson
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.spearman(np.zeros((2, 4, 4)), np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match="win_size"):
        metrics.ssim(np.zeros((2, 2, 8)), np.ones((2, 2, 8)))
    with pytest.raises(ValueError, match="2-D maps"):
        metrics.hog(np.zeros((2, 64)), np.zeros((2, 64)))


@pytest.mark.parametrize("shape", [(40, 8, 8), (5, 30, 29), (3, 9, 3), (4, 5, 7, 9)])
def test_stacked_ssim_equals_one_skimage_call_per_map(monkeypatch, shape):
    """SSIM of stacked maps (several chunks here) equals scikit-image called map by map."""
    monkeypatch.setattr(_image_metrics, "_SSIM_CHUNK_PIXELS", 3 * int(np.prod(shape[1:])) + 1)
    a, b = _maps(14, shape), _maps(15, shape)
    a[1], b[1] = 0.0, 3.0  # two constant maps
    b[2] = 0.0  # one constant map
    got = metrics.ssim(a, b)
    win = min(7, min(shape[1:]) if min(shape[1:]) % 2 else min(shape[1:]) - 1)
    scaled = [[_minmax(m) if np.ptp(m) else np.zeros_like(m) for m in pair] for pair in zip(a, b)]
    want = [structural_similarity(u, v, data_range=1.0, win_size=win) for u, v in scaled]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert got[1] == 1.0


def test_batch_features_share_reductions_and_match_each_metric():
    a, b = _maps(16), _maps(17)
    fns = {name: metrics.get(name) for name in metrics.names()}
    fa = metrics.batch_features(fns, a, channel_axis=-1)
    fb = metrics.batch_features(fns, b, channel_axis=-1)
    assert sorted(fa) == metrics.names()
    for name, fn in fns.items():
        np.testing.assert_array_equal(fn.compare(fa[name], fb[name]),
                                      fn(a, b, channel_axis=-1), err_msg=name)
