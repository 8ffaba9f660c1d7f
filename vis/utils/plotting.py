"""Matplotlib helpers: a grid of maps (rows = samples, columns = methods), headless-safe.

For text, time series and tabular inputs see `vis.utils.plot_sequences` (`plot_tokens`,
`tokens_html`, `plot_series`, `plot_features`, also importable from `vis.utils`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from vis.utils.image import normalize, overlay_heatmap, to_rgb

__all__ = ["plot_maps", "show_grid"]


def show_grid(
    images: Sequence[np.ndarray] | np.ndarray,
    ncols: int = 4,
    titles: Sequence[str] | None = None,
    cmap: str = "jet",
    size: float = 2.0,
):
    """Shows a list of 2-D maps or RGB images in a grid.

    Args:
        images: Maps `(H, W)` / `(H, W, 1)` or RGB images `(H, W, 3)`.
        ncols: Columns of the grid. Defaults to `4`.
        titles: One title per image. Defaults to `None`.
        cmap: Colormap for 2-D maps. Defaults to `"jet"`.
        size: Inches per cell. Defaults to `2.0`.

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        ValueError: If `images` is empty, `ncols < 1`, or the titles do not match the images.

    Example:
        >>> fig = show_grid(list(maps), ncols=5)
    """
    import matplotlib.pyplot as plt

    images = list(images)
    if not images:
        raise ValueError("`images` is empty.")
    if ncols < 1:
        raise ValueError(f"`ncols` must be >= 1, got {ncols}.")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"`titles` has {len(titles)} entries for {len(images)} images.")
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= len(images):
            continue
        img = np.asarray(images[i])
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        if img.ndim == 2:
            ax.imshow(normalize(img), cmap=cmap, vmin=0, vmax=1)
        else:
            ax.imshow(to_rgb(img))
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def plot_maps(
    images: np.ndarray,
    maps: Mapping[str, np.ndarray],
    alpha: float | None = None,
    cmap: str = "jet",
    size: float = 1.6,
    row_labels: Sequence[str] | None = None,
):
    """Compares methods: one row per image, the image then one column per method's map.

    Args:
        images: A batch of images `(N, H, W[, C])`.
        maps: Method name -> maps `(N, H, W)` (or with a channel axis, reduced by max of |.|).
        alpha: If given, overlay maps on the image with this weight; else show the map alone.
            Defaults to `None`.
        cmap: Colormap. Defaults to `"jet"`.
        size: Inches per cell. Defaults to `1.6`.
        row_labels: A label per image (e.g. the class). Defaults to `None`.

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        ValueError: If a map batch does not have one map per image.

    Example:
        >>> fig = plot_maps(x[:4], {"gradient": g, "guided": gb, "Grad-CAM": cam})
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    n = len(images)
    for name, m in maps.items():
        if len(m) != n:
            raise ValueError(f"`maps[{name!r}]` has {len(m)} maps for {n} images.")
    ncols = 1 + len(maps)
    fig, axes = plt.subplots(n, ncols, figsize=(size * ncols, size * n), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(to_rgb(images[i]))
        if row_labels is not None:
            axes[i, 0].set_ylabel(str(row_labels[i]), fontsize=9)
        for j, (name, m) in enumerate(maps.items(), start=1):
            heat = np.asarray(m[i], dtype="float32")
            if heat.ndim == 3:
                heat = np.abs(heat).max(axis=-1)
            if alpha is None:
                axes[i, j].imshow(normalize(heat), cmap=cmap, vmin=0, vmax=1)
            else:
                axes[i, j].imshow(overlay_heatmap(images[i], heat, alpha=alpha, cmap=cmap))
            if i == 0:
                axes[i, j].set_title(name, fontsize=9)
    if n:
        axes[0, 0].set_title("input", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
