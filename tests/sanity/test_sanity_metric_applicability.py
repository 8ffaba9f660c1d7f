"""Metrics that cannot compare the maps are caught before any work (regression: 'hog' on the
1-D maps of an MLP failed after all maps were computed, after both trainings)."""

import keras
import numpy as np
import pytest
from scipy import stats

from vis.sanity import data_randomization_test, metrics, model_randomization_test


def _mlp():
    init = keras.initializers.GlorotUniform
    return keras.Sequential([keras.Input((20,)),
                             keras.layers.Dense(16, activation="relu", kernel_initializer=init(0)),
                             keras.layers.Dense(3, kernel_initializer=init(1))])


def _conv1d():
    init = keras.initializers.GlorotUniform
    inp = keras.Input((12, 3))
    h = keras.layers.Conv1D(4, 3, activation="relu", kernel_initializer=init(0))(inp)
    out = keras.layers.Dense(3, kernel_initializer=init(1))(keras.layers.Flatten()(h))
    return keras.Model(inp, out)


class _Spy:
    """The gradient explainer, counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, model, x, y):
        self.calls += 1
        from vis.sanity.explainers import gradient

        return gradient(model, x, y)


def _spearman(a, b):
    return [stats.spearmanr(u.ravel(), v.ravel()).statistic for u, v in zip(a, b)]


def test_default_metrics_drop_hog_and_ssim_on_flat_maps():
    x = np.random.default_rng(0).normal(size=(8, 20)).astype("float32")
    y = np.arange(8) % 3
    with pytest.warns(UserWarning, match=r"\['ssim', 'hog'\].*skipped"):
        result = model_randomization_test(_mlp(), x, y, "gradient", verbose=False)
    assert list(result.scores) == ["spearman_abs", "spearman"]
    a = result.maps["original"].astype("float64")
    for k, step in enumerate(result.steps):
        b = result.maps[step].astype("float64")
        np.testing.assert_allclose(result.scores["spearman"][k], _spearman(a, b), atol=1e-12)
        np.testing.assert_allclose(result.scores["spearman_abs"][k],
                                   _spearman(np.abs(a), np.abs(b)), atol=1e-12)


def test_conv1d_maps_are_summed_over_channels_then_compared():
    x = np.random.default_rng(1).normal(size=(6, 12, 3)).astype("float32")
    y = np.arange(6) % 3
    with pytest.warns(UserWarning, match="'hog'"):
        result = model_randomization_test(_conv1d(), x, y, "gradient", verbose=False)
    assert result.map_channel_axis == -1 and list(result.scores) == ["spearman_abs", "spearman"]
    a = result.maps["original"].astype("float64")
    b = result.maps[result.steps[0]].astype("float64")
    np.testing.assert_allclose(result.scores["spearman"][0],
                               _spearman(a.sum(-1), b.sum(-1)), atol=1e-12)


@pytest.mark.parametrize("metric", ["hog", "ssim"])
def test_requested_metrics_that_do_not_apply_raise_before_any_map(metric):
    x = np.random.default_rng(0).normal(size=(8, 20)).astype("float32")
    spy = _Spy()
    with pytest.raises(ValueError, match=f"'{metric}' cannot compare.*shape \\(20,\\)"):
        model_randomization_test(_mlp(), x, np.arange(8) % 3, spy,
                                 metrics=("spearman", metric), verbose=False)
    assert spy.calls == 0


def test_data_randomization_checks_metrics_before_training():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(32, 20)).astype("float32"), np.arange(32) % 3
    trainings = []
    callback = keras.callbacks.LambdaCallback(on_train_begin=lambda logs: trainings.append(1))
    with pytest.raises(ValueError, match="'hog' cannot compare"):
        data_randomization_test(_mlp, x, y, x[:4], y[:4], "gradient", epochs=1,
                                metrics=("hog",), fit_kwargs={"callbacks": [callback]},
                                verbose=False)
    assert trainings == []
    with pytest.warns(UserWarning, match="skipped"):
        result = data_randomization_test(_mlp, x, y, x[:4], y[:4], "gradient", epochs=1,
                                         fit_kwargs={"callbacks": [callback]}, verbose=False)
    assert len(trainings) == 2 and list(result.scores) == ["spearman_abs", "spearman"]


def test_custom_explainer_maps_are_checked_after_the_original_maps():
    """A callable whose maps differ from the inputs' shape is checked on the first maps."""
    x = np.random.default_rng(3).normal(size=(4, 8, 8, 1)).astype("float32")
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    calls = []

    def rows(m, xb, yb):
        calls.append(1)
        return xb[..., 0].sum(-1)  # (N, 8): not an image

    with pytest.raises(ValueError, match="'ssim' cannot compare the maps of the explainer"):
        model_randomization_test(model, x, np.arange(4) % 3, rows, metrics=("ssim",),
                                 verbose=False)
    assert len(calls) == 1  # the original maps only, no randomization step
    with pytest.warns(UserWarning, match="explainer"):
        result = model_randomization_test(model, x, np.arange(4) % 3, rows, verbose=False)
    np.testing.assert_allclose(result.scores["spearman"], 1.0)


def test_check_map_shape():
    metrics.check_map_shape("hog", (8, 8))
    metrics.check_map_shape("ssim", (4, 8, 8))  # volumes: scikit-image's N-D SSIM
    metrics.check_map_shape("spearman", (5,))
    with pytest.raises(ValueError, match="2-D maps"):
        metrics.check_map_shape("hog", (4, 8, 8))
    with pytest.raises(ValueError, match="too small"):
        metrics.check_map_shape("hog", (2, 8))
    with pytest.raises(ValueError, match="at least 2 spatial"):
        metrics.check_map_shape(metrics.ssim, (20,))
    with pytest.raises(ValueError, match="win_size"):
        metrics.check_map_shape("ssim", (2, 8))
