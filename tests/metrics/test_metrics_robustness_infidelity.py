"""Max/avg-sensitivity and infidelity on a linear model, where both are known in closed form."""

import numpy as np
import pytest
from helpers_models import dense_linear

import vis
from vis import _explain
from vis.copies import weights_digest
from vis.metrics import avg_sensitivity, infidelity, max_sensitivity, sensitivities


@pytest.fixture(scope="module")
def linear():
    model, W, b = dense_linear(n_in=30, n_out=4, softmax=True, seed=7)
    x = np.random.default_rng(7).random((6, 30)).astype("float32") + 0.5
    return model, W, x, np.array([0, 1, 2, 3, 0, 1])


def test_sensitivity_of_the_gradient_of_a_linear_model_is_zero(linear):
    model, _, x, t = linear
    np.testing.assert_array_equal(max_sensitivity(model, x, t, "gradient"), 0.0)
    np.testing.assert_array_equal(avg_sensitivity(model, x, t, "gradient", radius=0.5), 0.0)


def test_sensitivity_of_gradient_x_input_is_within_its_bound(linear):
    model, W, x, t = linear
    r = 0.05
    w = W[:, t].T.astype("float64")
    bound = r * np.linalg.norm(w, axis=1) / np.linalg.norm(w * x, axis=1)
    s = sensitivities(model, x, t, "gradient_x_input", radius=r, samples=20)
    assert s.shape == (6, 20)
    assert np.all(s > 0) and np.all(s <= bound[:, None] * (1 + 1e-5))
    # phi(x + u) - phi(x) = w * u exactly (up to float32 rounding of x + u)
    np.testing.assert_array_equal(max_sensitivity(model, x, t, "gradient_x_input", radius=r,
                                                  samples=20), s.max(axis=1))
    np.testing.assert_allclose(avg_sensitivity(model, x, t, "gradient_x_input", radius=r,
                                               samples=20), s.mean(axis=1))
    assert np.all(s.mean(axis=1) < s.max(axis=1))


def test_sensitivity_is_seeded_batched_and_leaves_the_model_alone(linear, monkeypatch):
    model, _, x, t = linear
    digest = weights_digest(model)
    calls = []
    original = _explain.explain

    def counting(model_, inputs, *args, **kwargs):
        calls.append(len(inputs))
        return original(model_, inputs, *args, **kwargs)

    monkeypatch.setattr(_explain, "explain", counting)
    a = max_sensitivity(model, x, t, "gradient_x_input", samples=7, seed=3)
    assert calls == [6, 6 * 7]  # the maps, then every perturbed copy in one call
    np.testing.assert_array_equal(a, max_sensitivity(model, x, t, "gradient_x_input",
                                                     samples=7, seed=3))
    assert not np.array_equal(a, max_sensitivity(model, x, t, "gradient_x_input", samples=7,
                                                 seed=4))
    # the random control's maps do not follow the input: a large sensitivity
    assert np.all(max_sensitivity(model, x, t, "random", samples=3) > 1.0)
    assert weights_digest(model) == digest


def test_sensitivity_errors(linear):
    model, _, x, t = linear
    with pytest.raises(TypeError, match="`method` must be a method"):
        max_sensitivity(model, x, t, np.zeros_like(x))
    with pytest.raises(ValueError, match="`radius` must be a finite number > 0"):
        max_sensitivity(model, x, t, "gradient", radius=0)
    with pytest.raises(ValueError, match="`samples` must be an int >= 1"):
        avg_sensitivity(model, x, t, "gradient", samples=0)
    with pytest.raises(ValueError, match="`seed`"):
        avg_sensitivity(model, x, t, "gradient", seed=-1)
    with pytest.raises(ValueError, match="Could not interpret method"):
        avg_sensitivity(model, x, t, "no_such_method")


def test_infidelity_is_zero_for_the_gradient_of_a_linear_model_and_large_for_random(linear):
    model, W, x, t = linear
    exact = infidelity(model, x, "gradient", t, samples=40, noise=0.2)
    # f(x) - f(x - I) = w . I exactly: only float32 rounding of the logits remains
    assert np.all(exact < 1e-9)
    noise = np.random.default_rng(0).normal(size=x.shape)
    wrong = infidelity(model, x, noise, t, samples=40, noise=0.2)
    assert np.all(wrong > 1e-2) and wrong.mean() > 1e6 * max(exact.mean(), 1e-15)
    # E[(I . (phi - w))^2] = noise^2 ||phi - w||^2 for Gaussian I: the estimate is close
    w = W[:, t].T
    expected = 0.04 * ((noise - w) ** 2).sum(axis=1)
    np.testing.assert_allclose(infidelity(model, x, noise, t, samples=4000, noise=0.2),
                               expected, rtol=0.15)
    np.testing.assert_array_equal(wrong, infidelity(model, x, noise, t, samples=40, noise=0.2))


def test_infidelity_broadcasts_spatial_maps_over_channels_and_checks_arguments():
    import keras

    inp = keras.Input((4, 4, 3))
    out = keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Conv2D(1, 1)(inp)))
    model = keras.Model(inp, out)
    x = np.random.default_rng(0).random((2, 4, 4, 3)).astype("float32")
    cam = np.random.default_rng(1).normal(size=(2, 4, 4))
    np.testing.assert_array_equal(
        infidelity(model, x, cam, 1, samples=5),
        infidelity(model, x, np.repeat(cam[..., None], 3, axis=-1), 1, samples=5))
    with pytest.raises(ValueError, match="`attributions` has shape"):
        infidelity(model, x, cam[:, :3], 1)
    with pytest.raises(ValueError, match="`noise` must be a finite number > 0"):
        infidelity(model, x, cam, 1, noise=-0.1)
    with pytest.raises(ValueError, match="`samples` must be an int >= 1"):
        infidelity(model, x, cam, 1, samples=0)
    assert vis.metrics.get("infidelity").higher_is_better is False


def test_sensitivity_of_all_zero_maps_is_zero_or_inf():
    model, _, _ = dense_linear(n_in=5, n_out=2, seed=0)
    x = np.arange(10, dtype="float32").reshape(2, 5)  # integers: round(x) - x == 0

    def zeros(model_, inputs, targets, **options):
        return np.zeros_like(inputs)

    def off_grid(model_, inputs, targets, **options):
        return inputs - np.round(inputs)  # 0 at x, not at x + u

    np.testing.assert_array_equal(max_sensitivity(model, x, 0, zeros, samples=3), 0.0)
    np.testing.assert_array_equal(max_sensitivity(model, x, 0, off_grid, samples=3), np.inf)
