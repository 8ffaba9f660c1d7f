"""Streaming float64 moments (Welford / Chan) against NumPy."""

import numpy as np
import pytest

from vis.pss import RunningMoments, batch_moments


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(0)
    return rng.gamma(2.0, size=(257, 5)) * np.array([1e-6, 1e-3, 1.0, 1e3, 0.0])


def test_batches_of_any_size_give_numpy_mean_and_ddof1_std(samples):
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.choice(np.arange(1, len(samples)), size=20, replace=False))
    moments = RunningMoments()
    for batch in np.split(samples, cuts):
        moments.update(batch)
    assert moments.count == len(samples)
    np.testing.assert_allclose(moments.mean, samples.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(moments.std(ddof=1), samples.std(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(moments.variance(ddof=0), samples.var(axis=0), rtol=1e-12)
    assert moments.std(ddof=1)[4] == 0.0  # a constant feature has exactly zero spread


def test_single_sample_updates_are_welford(samples):
    moments = RunningMoments(shape=(5,))
    for row in samples[:50]:
        moments.update(row[None])
    np.testing.assert_allclose(moments.std(), samples[:50].std(axis=0, ddof=1), rtol=1e-12)


def test_merge_is_order_independent(samples):
    parts = np.array_split(samples, 7)
    forward, backward = RunningMoments(), RunningMoments()
    for part in parts:
        forward.merge(RunningMoments().update(part))
    for part in parts[::-1]:
        backward.update_moments(*batch_moments(part))
    np.testing.assert_allclose(forward.mean, backward.mean, rtol=1e-14)
    np.testing.assert_allclose(forward.m2, backward.m2, rtol=1e-12)


def test_large_offset_does_not_cancel():
    """sum(x^2)/n - mean^2 loses every digit here; the M2 recursion keeps them."""
    rng = np.random.default_rng(2)
    data = 1e9 + rng.normal(size=(1000, 1))
    moments = RunningMoments()
    for batch in np.array_split(data, 13):
        moments.update(batch)
    np.testing.assert_allclose(moments.std(), data.std(axis=0, ddof=1), rtol=1e-6)


def test_empty_batches_and_errors():
    moments = RunningMoments()
    moments.update(np.zeros((0, 3)))
    assert moments.count == 0
    moments.update(np.ones((1, 3)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        moments.std(ddof=1)
    with pytest.raises(ValueError, match="shape mismatch"):
        moments.update(np.ones((2, 4)))
    with pytest.raises(ValueError, match="`count` must be >= 0"):
        moments.update_moments(-1, np.zeros(3), np.zeros(3))
    n, mean, m2 = batch_moments(np.array([[1.0], [3.0]]))
    assert (n, mean.tolist(), m2.tolist()) == (2, [2.0], [2.0])
