"""`smooth=`: the noise tunnel over any method equals the mean of per-noise maps."""

import numpy as np
import pytest
from helpers_models import small_relu_convnet

import vis


@pytest.fixture
def convnet():
    model, *_ = small_relu_convnet("fused", seed=7)
    x = np.random.default_rng(7).normal(size=(3, 6, 6, 1)).astype("float32")
    return model, x


@pytest.mark.parametrize("kind", ["mean", "square", "var"])
def test_smooth_guided_backprop_equals_per_noise_maps(convnet, kind):
    model, x = convnet
    t = np.array([0, 1, 1])
    samples, noise, seed = 6, 0.2, 11
    got = vis.explain(model, x, "guided_backprop", t,
                      smooth={"samples": samples, "noise": noise, "seed": seed, "kind": kind})
    standard = np.random.default_rng(seed).standard_normal((samples,) + x.shape[1:])
    want = []
    for i in range(len(x)):
        sigma = noise * (x[i].max() - x[i].min())
        noisy = (x[i] + (standard * sigma).astype("float32")).astype("float32")
        maps = vis.explain(model, noisy, "guided_backprop", t[i]).astype("float64")
        want.append({"mean": maps.mean(0), "square": np.square(maps).mean(0),
                     "var": maps.var(0)}[kind])
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-5, atol=1e-7)


def test_smooth_is_reproducible_and_independent_of_batching(convnet):
    model, x = convnet
    settings = {"samples": 5, "seed": 3}
    a = vis.explain(model, x, "integrated_gradients", 1, smooth=settings, steps=8)
    b = vis.explain(model, x, "integrated_gradients", 1, smooth=settings, steps=8, batch_size=7)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    one = vis.explain(model, x[1], "integrated_gradients", 1, smooth=settings, steps=8)
    np.testing.assert_allclose(one, a[1], rtol=1e-5, atol=1e-7)
    c = vis.explain(model, x, "integrated_gradients", 1, smooth={"samples": 5, "seed": 4},
                    steps=8)
    assert not np.allclose(a, c)


def test_smoothgrad_method_is_gradient_plus_smooth(convnet):
    model, x = convnet
    t = np.array([1, 0, 1])
    np.testing.assert_allclose(
        vis.explain(model, x, "smoothgrad", t, samples=8, noise=0.1, seed=2),
        vis.explain(model, x, "gradient", t, smooth={"samples": 8, "noise": 0.1, "seed": 2}),
        rtol=1e-6)
    # and the keras-vis function gives the same raw numbers
    from vis.losses import per_sample
    from vis.visualization import visualize_smoothgrad

    np.testing.assert_allclose(
        visualize_smoothgrad(model, -1, per_sample(t), x, samples=8, noise=0.1, seed=2,
                             grad_modifier=None, keepdims=True, normalize=False),
        vis.explain(model, x, "smoothgrad", t, samples=8, noise=0.1, seed=2), rtol=1e-6)


def test_smooth_over_a_cam_method(convnet):
    model, x = convnet
    got = vis.explain(model, x, "gradcam", 0, smooth={"samples": 4, "seed": 0})
    assert got.shape == (3, 6, 6) and np.all(got >= 0) and np.all(np.isfinite(got))
