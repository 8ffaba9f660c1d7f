"""What `vis saliency` / `vis cam` draw: display maps and the image | map | overlay panel."""

from __future__ import annotations

import os

import numpy as np

from vis.cli._errors import UsageError

__all__ = ["display_maps", "panel_figure", "save_panel"]

CMAP = "inferno"


def display_maps(maps: np.ndarray, method, channel_axis: int = -1) -> np.ndarray:
    """Turns a method's raw maps into heat maps `(N, H, W)` in [0, 1], from its `Method` record.

    Signed maps (`method.signed`) are taken in absolute value; maps shaped like the input
    (`method.output == "input"`) are reduced over the channel axis by their maximum; maps of the
    CAM family (`method.output == "spatial"`) are spatial already. Each map is then min-max
    scaled to [0, 1] (a constant map becomes zeros).

    Args:
        maps: The raw maps of `vis.explain`, a batch.
        method: The `vis.methods.Method` that computed them.
        channel_axis: The channel axis of input-shaped maps (the model's). Defaults to `-1`.

    Returns:
        An array `(N, H, W)` in [0, 1].

    Example:
        >>> heat = display_maps(vis.explain(model, x, "gradient"), vis.methods.get("gradient"))
        >>> heat.shape, float(heat.max())
        ((8, 8, 8), 1.0)
    """
    from vis.utils.image import normalize

    heat = np.asarray(maps)
    if method.signed:
        heat = np.abs(heat)
    if method.output == "input" and heat.ndim > 3:
        heat = heat.max(axis=channel_axis)
    return normalize(heat, batch=True)


def panel_figure(image: np.ndarray, heat: np.ndarray, title: str, scale: str = "01"):
    """The figure image | map | overlay, the map and the overlay in the same colormap.

    Args:
        image: The model's input image `(H, W, C)` (channels last).
        heat: The map `(H, W)` (or `(H, W, C)`: the largest magnitude over channels is shown).
        title: The figure title.
        scale: The pixel scaling of `image`, `"01"` or `"255"`. Defaults to `"01"`.

    Returns:
        A `matplotlib.figure.Figure` (not managed by pyplot).

    Example:
        >>> fig = panel_figure(x[0], heat[0], "gradient | predictions unit 3")
        >>> fig.savefig("panel.png")  # doctest: +SKIP
    """
    from matplotlib.figure import Figure

    from vis.utils.image import overlay_heatmap, to_rgb

    heat = np.asarray(heat, dtype="float32")
    if heat.ndim == 3:
        heat = np.abs(heat).max(axis=-1)
    img = np.asarray(image, dtype="float32") / (255.0 if scale == "255" else 1.0)
    rgb = np.clip(to_rgb(np.clip(img, 0, 1)) if img.max() > img.min() else np.zeros(
        img.shape[:2] + (3,), "float32"), 0, 1)
    fig = Figure(figsize=(7.5, 2.8))
    axes = fig.subplots(1, 3)
    axes[0].imshow(rgb, interpolation="nearest")
    axes[0].set_title("image", fontsize=9)
    im = axes[1].imshow(heat, cmap=CMAP, interpolation="nearest")
    axes[1].set_title("map", fontsize=9)
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.04)
    axes[2].imshow(overlay_heatmap(rgb, heat, alpha=0.5, cmap=CMAP), interpolation="nearest")
    axes[2].set_title("overlay", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return fig


def save_panel(image: np.ndarray, heat: np.ndarray, title: str, path: str,
               scale: str = "01") -> None:
    """Writes image | map | overlay side by side (the format from the file extension).

    Args:
        image: See `panel_figure`.
        heat: See `panel_figure`.
        title: The figure title.
        path: The output file (its folder is created).
        scale: See `panel_figure`. Defaults to `"01"`.

    Raises:
        UsageError: If the file cannot be written.
    """
    fig = panel_figure(image, heat, title, scale)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")
    except OSError as err:
        raise UsageError(f"--out: cannot write {path!r} ({err.strerror or err})") from None
