"""vis.utils.image and vis.utils.plotting: values, shapes and content, headless."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vis.utils import normalize, overlay, overlay_heatmap, plot_maps, show_grid  # noqa: E402


def test_normalize_min_max_and_constant():
    np.testing.assert_allclose(normalize(np.array([2.0, 4.0, 3.0])), [0, 1, 0.5])
    assert np.all(normalize(np.full((3, 3), 7.0)) == 0)
    b = normalize(np.array([[1.0, 3.0], [5.0, 5.0]]), batch=True)
    np.testing.assert_allclose(b, [[0, 1], [0, 0]])


def test_overlay_heatmap_blends_and_resizes():
    img = np.zeros((8, 8))
    heat = np.zeros((4, 4))
    heat[0, 0] = 1.0
    out = overlay_heatmap(img, heat, alpha=1.0, cmap="gray")
    assert out.shape == (8, 8, 3)
    assert out[0, 0, 0] > 0.5 and out[-1, -1, 0] == 0  # hot corner stays at the top left
    np.testing.assert_allclose(overlay_heatmap(img, heat, alpha=0.0), 0)
    with pytest.raises(ValueError, match="alpha"):
        overlay_heatmap(img, heat, alpha=2)
    with pytest.raises(ValueError, match="heatmap"):
        overlay_heatmap(img, np.zeros((2, 2, 2)))


def test_overlay_is_keras_vis_two_image_blend():
    """keras-vis' idiom: overlay(jet heat map, image) on two uint8 images of one shape."""
    from vis.visualization import overlay as from_visualization

    assert from_visualization is overlay
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (5, 6, 3)).astype("uint8")
    b = rng.integers(0, 256, (5, 6, 3)).astype("uint8")
    out = overlay(a, b, alpha=0.3)
    assert out.dtype == np.uint8 and out.shape == a.shape
    np.testing.assert_array_equal(out, (a * 0.3 + b * 0.7).astype("uint8"))
    np.testing.assert_array_equal(overlay(a, b), (a * 0.5 + b * 0.5).astype("uint8"))
    np.testing.assert_array_equal(overlay(a, b, alpha=1.0), a)
    with pytest.raises(ValueError, match="same shape"):
        overlay(a, b[:4])
    with pytest.raises(ValueError, match="alpha"):
        overlay(a, b, alpha=1.5)


def test_plot_helpers_return_figures_with_the_images():
    rng = np.random.default_rng(0)
    imgs = rng.uniform(size=(3, 8, 8, 1))
    fig = plot_maps(imgs, {"a": rng.uniform(size=(3, 8, 8)), "b": rng.uniform(size=(3, 8, 8, 1))},
                    alpha=0.5, row_labels=["0", "1", "2"])
    assert len(fig.axes) == 9
    assert [ax.get_title() for ax in fig.axes[:3]] == ["input", "a", "b"]
    shown = fig.axes[1].images[0].get_array()
    assert shown.shape == (8, 8, 3)
    fig2 = show_grid([imgs[0], imgs[1, ..., 0]], ncols=2, titles=["x", "y"])
    np.testing.assert_allclose(fig2.axes[1].images[0].get_array(), normalize(imgs[1, ..., 0]))
    with pytest.raises(ValueError, match="maps"):
        plot_maps(imgs, {"a": imgs[:2, ..., 0]})
    import matplotlib.pyplot as plt

    plt.close("all")
