"""KernelSHAP and LIME over segments: exact Shapley values, brute-force references, rankings."""

import itertools
import math

import keras
import numpy as np
import pytest
from skimage.segmentation import slic

import vis
from vis.methods.kernel_shap import shapley_coalitions
from vis.methods.lime import lime_coalitions


def linear_images(shape=(6, 6, 2), classes=3, seed=0):
    """Flatten -> Dense: `f_c(x) = sum(w_c * x) + b_c`. Returns (model, w (*shape, classes))."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(math.prod(shape), classes)).astype("float32")
    inp = keras.Input(shape)
    dense = keras.layers.Dense(classes, name="out")
    model = keras.Model(inp, dense(keras.layers.Flatten()(inp)))
    dense.set_weights([W, rng.normal(size=classes).astype("float32")])
    return model, W.reshape(shape + (classes,))


def segment_sums(values, labels):
    """Per-segment sums of a (N, H, W, C) array, broadcast back to pixels."""
    out = np.zeros(values.shape)
    for i in range(len(values)):
        for s in np.unique(labels):
            out[i][labels == s] = values[i][labels == s].sum()
    return out


@pytest.mark.parametrize("n_labels, samples", [(5, 64), (12, 300)])  # enumerated, sampled
def test_kernel_shap_on_a_linear_model_is_exact(n_labels, samples):
    model, w = linear_images()
    rng = np.random.default_rng(1)
    labels = np.concatenate([np.arange(n_labels), rng.integers(0, n_labels, 36 - n_labels)])
    labels = rng.permutation(labels).reshape(6, 6) * 3 + 1  # any int labels
    x = rng.normal(size=(2, 6, 6, 2)).astype("float32")
    t = np.array([2, 0])
    got = vis.explain(model, x, "kernel_shap", t, segments=labels, samples=samples)
    want = segment_sums(x * np.moveaxis(w[..., t], -1, 0), labels)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_kernel_shap_enumerated_equals_the_shapley_formula_on_a_cnn():
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(3, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    x = np.random.default_rng(2).normal(size=(1, 6, 6, 1)).astype("float32")
    labels = np.repeat(np.repeat(np.arange(4).reshape(2, 2), 3, 0), 3, 1)  # quadrants
    base = 0.5
    got = vis.explain(model, x, "kernel_shap", 1, segments=labels, baseline=base, samples=16)
    subsets = list(itertools.product([0, 1], repeat=4))
    inputs = np.stack([np.where(np.array(z)[labels][..., None] == 1, x[0], base)
                       for z in subsets]).astype("float32")
    f = dict(zip(subsets, model.predict(inputs, verbose=0)[:, 1].astype("float64")))
    phi = np.zeros(4)
    for j in range(4):
        for z in subsets:
            if z[j] == 0:
                s = sum(z)
                with_j = tuple(1 if k == j else v for k, v in enumerate(z))
                phi[j] += math.factorial(s) * math.factorial(3 - s) / 24 * (f[with_j] - f[z])
    np.testing.assert_allclose(got[0, ..., 0], phi[labels], rtol=1e-4, atol=1e-5)


def test_kernel_shap_sampled_keeps_efficiency_and_is_reproducible():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(3, 3, activation="tanh"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    x = np.random.default_rng(3).uniform(size=(2, 8, 8, 1)).astype("float32")
    labels = np.arange(64).reshape(8, 8) // 4  # 16 segments of 4 pixels: sampled
    got = vis.explain(model, x, "kernel_shap", 0, segments=labels, samples=100, seed=4)
    f = model.predict(np.concatenate([x, np.zeros_like(x)]), verbose=0)[:, 0]
    per_segment = got[..., 0].reshape(2, 16, 4)[..., 0]
    assert np.all(got[..., 0].reshape(2, 16, 4) == per_segment[..., None])
    np.testing.assert_allclose(per_segment.sum(axis=1), f[:2] - f[2:], rtol=1e-4, atol=1e-5)
    again = vis.explain(model, x, "kernel_shap", 0, segments=labels, samples=100, seed=4,
                        batch_size=7)
    np.testing.assert_allclose(again, got, rtol=1e-4, atol=1e-6)
    one = vis.explain(model, x[1], "kernel_shap", 0, segments=labels, samples=100, seed=4)
    np.testing.assert_allclose(one, got[1], rtol=1e-4, atol=1e-6)
    other = vis.explain(model, x, "kernel_shap", 0, segments=labels, samples=100, seed=5)
    assert not np.allclose(other, got)


def test_kernel_shap_coalitions_follow_the_shapley_kernel():
    z, w = shapley_coalitions(4, 16, np.random.default_rng(0))
    assert len(z) == 16 and np.isinf(w[:2]).all() and z[0].all() and not z[1].any()
    s = z[2:].sum(axis=1)
    np.testing.assert_allclose(w[2:], 3 / (np.array([math.comb(4, int(k)) for k in s])
                                           * s * (4 - s)))
    z, w = shapley_coalitions(16, 20000, np.random.default_rng(0))  # 2**16 > 20000: sampled
    sizes = np.bincount(z[2:].sum(axis=1).astype(int), minlength=16)[1:]
    p = 15 / (np.arange(1, 16) * (16 - np.arange(1, 16)))  # the kernel's mass of each size
    np.testing.assert_allclose(sizes / sizes.sum(), p / p.sum(), atol=0.01)
    assert np.all(w[2:] == 1)


def test_default_slic_segments_get_one_value_each(digits_like):
    model, x = digits_like
    maps = vis.explain(model, x, "kernel_shap", 0, n_segments=6, samples=64)
    for i in range(len(x)):
        img = x[i, ..., 0]
        labels = slic((img - img.min()) / (img.max() - img.min()), n_segments=6,
                      channel_axis=None, start_label=0)
        for s in np.unique(labels):
            assert np.unique(maps[i, ..., 0][labels == s]).size == 1
    lime = vis.explain(model, x, "lime", 0, n_segments=6, samples=64)
    assert lime.shape == x.shape


@pytest.fixture
def digits_like():
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    x = np.zeros((2, 8, 8, 1), "float32")
    x[0, 2:6, 3:5], x[1, 1:3, 1:7] = 1.0, 0.8
    return model, x


def test_lime_on_a_linear_model_ranks_segments_by_their_contribution():
    model, w = linear_images((6, 6, 1), classes=2, seed=5)
    labels = np.arange(36).reshape(6, 6) // 6  # 6 rows
    contribution = np.array([3.0, -2.5, 2.0, -1.5, 1.0, 0.5])
    w_target = np.repeat(contribution / 6, 6).reshape(6, 6, 1)
    x = np.ones((1, 6, 6, 1), "float32")
    W, b = model.get_layer("out").get_weights()
    W[:, 1] = w_target.ravel()
    model.get_layer("out").set_weights([W, b])
    got = vis.explain(model, x, "lime", 1, segments=labels, samples=400)
    coef = got[0, :, 0, 0]
    np.testing.assert_array_equal(np.argsort(-np.abs(coef)), np.argsort(-np.abs(contribution)))
    assert np.all(np.sign(coef) == np.sign(contribution))


def test_lime_equals_a_weighted_ridge_on_its_coalitions():
    from sklearn.linear_model import Ridge

    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, activation="tanh"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    x = np.random.default_rng(6).normal(size=(1, 6, 6, 1)).astype("float32")
    labels = np.arange(36).reshape(6, 6) // 4  # 9 segments
    got = vis.explain(model, x, "lime", 0, segments=labels, samples=60, width=0.3, alpha=0.5,
                      baseline="mean", seed=3)
    z = lime_coalitions(9, 60, np.random.default_rng(3))
    assert z[0].all()
    base = x[0].mean()
    inputs = np.stack([np.where(zz[labels][..., None] == 1, x[0], base) for zz in z])
    y = model.predict(inputs.astype("float32"), verbose=0)[:, 0]
    d = 1 - (z @ np.ones(9)) / (np.linalg.norm(z, axis=1) * 3 + 1e-300)
    d[z.sum(axis=1) == 0] = 1.0  # sklearn's cosine distance of the zero vector
    coef = Ridge(alpha=0.5).fit(z, y, sample_weight=np.exp(-d**2 / 0.09)).coef_
    np.testing.assert_allclose(got[0, ..., 0], coef[labels], rtol=1e-4, atol=1e-5)


def test_segment_and_sampling_errors_name_the_parameter(digits_like):
    model, x = digits_like
    for name in ("kernel_shap", "lime"):
        for kwargs, error, match in [
            (dict(segments="quickshift"), ValueError, r"`segments` must be 'slic'"),
            (dict(segments=np.zeros((4, 4), int)), ValueError, r"`segments` has shape \(4, 4\)"),
            (dict(segments=np.zeros((8, 8))), TypeError, r"`segments` must hold integer"),
            (dict(samples=0), ValueError, r"`samples`"),
            (dict(n_segments=0), ValueError, r"`n_segments`"),
            (dict(baseline="median"), ValueError, r"`baseline`"),
            (dict(seed=1.5), ValueError, r"`seed`"),
        ]:
            with pytest.raises(error, match=match):
                vis.explain(model, x, name, 0, **kwargs)
    with pytest.raises(ValueError, match="at least 2"):
        vis.explain(model, x, "kernel_shap", 0, samples=1)
    with pytest.raises(ValueError, match="`width`"):
        vis.explain(model, x, "lime", 0, width=0)
    segments = np.stack([np.zeros((8, 8), int), np.arange(64).reshape(8, 8) // 32])
    maps = vis.explain(model, x, "kernel_shap", 0, segments=segments)  # one per image
    assert np.unique(maps[0]).size == 1 and np.unique(maps[1]).size <= 2
