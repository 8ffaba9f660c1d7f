"""Plot helpers: compare_maps equals the individual methods; figures have one panel per map."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pattern_numpy_reference as ref  # noqa: E402
import pytest  # noqa: E402

from vis.pattern import (  # noqa: E402
    LRP,
    METHODS,
    PatternAttribution,
    PatternNet,
    Patterns,
    compare_maps,
    plot_maps,
    plot_signal_quality,
)
from vis.visualization import visualize_saliency  # noqa: E402


def test_compare_maps_and_plot_maps():
    model, _ = ref.small_net(seed=0)
    rng = np.random.default_rng(1)
    x = rng.normal(0.2, 1.0, (2, 6, 6, 1)).astype("float32")
    patterns = Patterns({n: rng.normal(size=tuple(model.get_layer(n).kernel.shape))
                         for n in ("conv", "hidden", "logits")}, "linear")
    idx = np.array([1, 2])
    maps = compare_maps(model, x, idx, patterns)
    assert list(maps) == list(METHODS)
    np.testing.assert_allclose(maps["patternnet"], PatternNet(model, patterns).explain(x, idx))
    np.testing.assert_allclose(maps["patternattribution"],
                               PatternAttribution(model, patterns).explain(x, idx))
    np.testing.assert_allclose(maps["lrp"], LRP(model).explain(x, idx))
    guided = visualize_saliency(model, -1, idx[0], x[:1], backprop_modifier="guided",
                                grad_modifier=None, keepdims=True, normalize=False)
    np.testing.assert_allclose(maps["guided"][0], guided, rtol=1e-6)  # x[:1]: one map
    fig = plot_maps(maps, x)
    assert len(fig.axes) == 2 * (len(METHODS) + 1)
    plt.close(fig)
    with pytest.raises(ValueError, match="patterns"):
        compare_maps(model, x, idx)
    with pytest.raises(ValueError, match="Unknown"):
        compare_maps(model, x, idx, patterns, methods=("magic",))


def test_plot_signal_quality():
    results = {"filter": {"c": 0.1, "d": 0.2}, "linear": {"c": 0.8, "d": 0.5}}
    ax = plot_signal_quality(results)
    assert len(ax.get_lines()) == 2
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [0.8, 0.5])
    plt.close(ax.figure)
    with pytest.raises(ValueError):
        plot_signal_quality({})


def test_plot_maps_of_one_sample_without_batch_axis():
    model, _ = ref.small_net(seed=0)
    rng = np.random.default_rng(2)
    x = rng.normal(0.2, 1.0, (1, 6, 6, 1)).astype("float32")
    patterns = Patterns({n: rng.normal(size=tuple(model.get_layer(n).kernel.shape))
                         for n in ("conv", "hidden", "logits")}, "linear")
    maps = compare_maps(model, x[0], 1, patterns, methods=("patternnet", "gradient"))
    assert maps["patternnet"].shape == (6, 6, 1)  # one sample: no batch axis, like explain()
    fig = plot_maps(maps, x[:1])
    assert len(fig.axes) == 3
    for ax, name in zip(fig.axes[1:], maps):
        np.testing.assert_allclose(ax.get_images()[0].get_array(), maps[name][..., 0], rtol=1e-6)
    plt.close(fig)
    with pytest.raises(ValueError, match="2 samples"):
        plot_maps(maps, np.concatenate([x, x]))
