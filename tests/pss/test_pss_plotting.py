"""Layer-wise sorted profile (paper Figure 1 style) and input-saliency overlays."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from vis.pss import plot_input_saliency, plot_profile, saliency_heatmap, sort_layerwise

FILTERS = [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("c", 0)]


def test_sort_layerwise_groups_in_model_order_and_sorts_within_layers():
    values = np.array([1.0, 3.0, 2.0, -1.0, 5.0, 0.5])
    sorted_values, order, groups = sort_layerwise(values, FILTERS)
    np.testing.assert_array_equal(sorted_values, [3.0, 2.0, 1.0, 5.0, -1.0, 0.5])
    np.testing.assert_array_equal(order, [1, 2, 0, 4, 3, 5])
    assert groups == [("a", 0, 3), ("b", 3, 5), ("c", 5, 6)]
    many = np.stack([values, values + 2.0])
    np.testing.assert_array_equal(sort_layerwise(many, FILTERS)[0], sorted_values + 1.0)
    with pytest.raises(ValueError, match=r"shape \(6,\) or \(n, 6\)"):
        sort_layerwise(values[:5], FILTERS)


def test_plot_profile_draws_the_sorted_layers_and_their_means():
    values = np.array([1.0, 3.0, 2.0, -1.0, 5.0, 0.5])
    fig = plot_profile(values, FILTERS, title="profile")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    drawn = np.concatenate([line.get_ydata() for line in ax.lines])
    np.testing.assert_array_equal(drawn, [3.0, 2.0, 1.0, 5.0, -1.0, 0.5])
    means = sorted(float(c.get_segments()[0][0][1]) for c in ax.collections)
    np.testing.assert_allclose(means, [0.5, 2.0, 2.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_title() == "profile"
    fig.savefig(__import__("io").BytesIO(), format="png")


def _reference_heatmap(saliency, low, high):
    m = np.abs(saliency.max(axis=-1))
    lo, hi = np.percentile(m, low), np.percentile(m, high)
    m = np.minimum(np.maximum(m, lo), hi)
    return (m - m.min()) / (m.max() - m.min())


def test_saliency_heatmap_follows_the_reference_postprocessing():
    rng = np.random.default_rng(19)
    saliency = rng.normal(size=(10, 10, 3))
    np.testing.assert_allclose(saliency_heatmap(saliency), _reference_heatmap(saliency, 90, 99))
    np.testing.assert_allclose(saliency_heatmap(saliency, (0, 100)),
                               _reference_heatmap(saliency, 0, 100))
    assert np.all(saliency_heatmap(np.ones((4, 4))) == 0)
    with pytest.raises(ValueError, match="0 <= low <= high <= 100"):
        saliency_heatmap(saliency, (99, 90))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, C\)"):
        saliency_heatmap(np.zeros(5))


def test_plot_input_saliency_overlays_heatmap_on_the_image():
    rng = np.random.default_rng(20)
    image, saliency = rng.random((8, 8, 1)), rng.normal(size=(8, 8, 1))
    fig = plot_input_saliency(image, saliency, title="x")
    images = fig.axes[0].get_images()
    assert len(images) == 2
    np.testing.assert_allclose(images[0].get_array(),
                               (image[..., 0] - image.min()) / np.ptp(image))
    np.testing.assert_allclose(images[1].get_array(), saliency_heatmap(saliency))
    with pytest.raises(ValueError, match="same height and width"):
        plot_input_saliency(image, saliency[:4])
