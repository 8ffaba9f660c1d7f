"""Input-space saliency: a second-order gradient, checked by finite differences in float64."""

import numpy as np
import pytest
from pss_testing import random_data, smooth_float64_model

from vis.pss import ParameterSaliency


@pytest.fixture(scope="module")
def smooth():
    model = smooth_float64_model()
    x, y = random_data((6, 6, 1), 30, seed=12)
    x = x.astype("float64")
    psal = ParameterSaliency(model).fit(x, y, verbose=False)
    return model, psal, x, y


def _cosine_objective(psal, images, label, boosted):
    profile = psal.profile(images, np.full(len(images), label))
    return profile @ boosted / (np.linalg.norm(profile, axis=1) * np.linalg.norm(boosted))


def test_matches_central_finite_differences(smooth):
    _, psal, x, y = smooth
    k, boost, i = 3, 100.0, 4
    grads = psal.input_saliency(x[i:i + 1], y[i:i + 1], k=k, boost=boost)[0]
    assert grads.dtype == np.float64
    profile = psal.profile(x[i:i + 1], y[i:i + 1])[0]
    boosted = profile.copy()
    boosted[psal.top_filters(x[i:i + 1], y[i:i + 1], k=k)[0]] *= boost
    h = 1e-6
    steps = np.eye(x[i].size).reshape(-1, *x[i].shape) * h
    plus = _cosine_objective(psal, x[i] + steps, y[i], boosted)
    minus = _cosine_objective(psal, x[i] - steps, y[i], boosted)
    numeric = ((plus - minus) / (2 * h)).reshape(x[i].shape)
    np.testing.assert_allclose(grads, numeric, rtol=1e-5, atol=1e-7 * np.abs(numeric).max())


def test_batching_is_per_sample(smooth):
    _, psal, x, y = smooth
    batch = psal.input_saliency(x[:5], y[:5], k=4, batch_size=2)
    single = np.concatenate([psal.input_saliency(x[j:j + 1], y[j:j + 1], k=4) for j in range(5)])
    np.testing.assert_allclose(batch, single, rtol=1e-9, atol=1e-12)


def test_boost_of_one_is_a_stationary_point(smooth):
    """cos(p(x), c) with c = p(x) is at its maximum: the gradient vanishes."""
    _, psal, x, y = smooth
    grads = psal.input_saliency(x[:3], y[:3], k=3, boost=1.0)
    reference = np.abs(psal.input_saliency(x[:3], y[:3], k=3)).max()
    assert np.abs(grads).max() < 1e-9 * max(reference, 1.0)


def test_filter_indices_replace_the_top_k(smooth):
    _, psal, x, y = smooth
    top = psal.top_filters(x[:3], y[:3], k=3)
    np.testing.assert_allclose(psal.input_saliency(x[:3], y[:3], filter_indices=top),
                               psal.input_saliency(x[:3], y[:3], k=3), rtol=1e-12, atol=1e-15)
    shared = psal.input_saliency(x[:2], y[:2], filter_indices=[0, 1])
    assert not np.allclose(shared, psal.input_saliency(x[:2], y[:2], k=2))
    with pytest.raises(ValueError, match="`filter_indices` must be integer indices"):
        psal.input_saliency(x[:2], y[:2], filter_indices=[len(psal.filters)])
    with pytest.raises(ValueError, match="`k` must be an integer in"):
        psal.input_saliency(x[:2], y[:2], k=0)
    with pytest.raises(ValueError, match="`boost` must be a finite number"):
        psal.input_saliency(x[:2], y[:2], boost=np.nan)


def test_digits_cnn_patches_and_vmap_agree_by_correlation(digits_cnn, trained_digits_psal):
    """ReLU + max-pool: ties make last-digit comparisons fragile (PITFALLS), so correlate."""
    model, _, (x, y) = digits_cnn
    psal = trained_digits_psal
    vmap = ParameterSaliency(model, gradient_method="vmap")
    vmap.mean_, vmap.std_, vmap.n_samples_ = psal.mean_, psal.std_, psal.n_samples_
    a = psal.input_saliency(x[:6], y[:6])
    b = vmap.input_saliency(x[:6], y[:6])
    for row_a, row_b in zip(a, b):
        assert np.corrcoef(row_a.ravel(), row_b.ravel())[0, 1] > 0.99
    assert np.abs(a).max() > 0


@pytest.fixture(scope="module")
def trained_digits_psal(digits_cnn):
    model, _, (x, y) = digits_cnn
    return ParameterSaliency(model).fit(x, y, verbose=False)
