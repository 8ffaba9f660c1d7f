"""Plots of parameter-space saliency: the layer-wise sorted profile and input-space saliency.

`plot_profile` draws a profile in the style of Levin et al. (2022), Figure 1: filters grouped by
layer in model order, sorted by saliency within each layer, with each layer's mean. The figures are
built with `matplotlib.figure.Figure` (no pyplot state, works headless).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = ["sort_layerwise", "plot_profile", "saliency_heatmap", "plot_input_saliency"]


def sort_layerwise(values, filters: Sequence[tuple[str, int]]):
    """Groups profile columns by layer (model order) and sorts each group in descending order.

    Args:
        values: A profile `(F,)`, or profiles `(n, F)` (averaged over samples).
        filters: `(layer name, index)` per column, e.g. `ParameterSaliency.filters`.

    Returns:
        `(sorted_values, order, groups)`: the re-ordered values `(F,)`, the column index of
        every position `(F,)`, and `(layer name, start, stop)` for every layer.

    Raises:
        ValueError: If `values` and `filters` disagree in length.

    Example:
        >>> v, order, groups = sort_layerwise([1.0, 3.0, 2.0], [("a", 0), ("a", 1), ("b", 0)])
        >>> v.tolist(), order.tolist(), groups
        ([3.0, 1.0, 2.0], [1, 0, 2], [('a', 0, 2), ('b', 2, 3)])
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2:
        values = values.mean(axis=0)
    if values.ndim != 1 or values.shape[0] != len(filters):
        raise ValueError(
            f"`values` must have shape ({len(filters)},) or (n, {len(filters)}) to match "
            f"`filters`; received shape {np.shape(values)}."
        )
    groups, order = [], []
    start = 0
    names = [name for name, _ in filters]
    for i in range(1, len(names) + 1):
        if i == len(names) or names[i] != names[start]:
            columns = np.arange(start, i)
            order.extend(columns[np.argsort(-values[columns], kind="stable")])
            groups.append((names[start], start, i))
            start = i
    order = np.asarray(order, dtype=np.int64)
    return values[order], order, groups


def plot_profile(values, filters: Sequence[tuple[str, int]], ax=None, title: str | None = None,
                 layer_means: bool = True, max_labels: int = 20,
                 ylabel: str = "filter saliency") -> Figure:
    """Plots a saliency profile layer by layer, each layer's filters sorted (paper's Figure 1).

    Args:
        values: A profile `(F,)` or profiles `(n, F)` (their mean is plotted), e.g. from
            `ParameterSaliency.profile`, or `mean_` for the validation mean.
        filters: `(layer name, index)` per column, e.g. `ParameterSaliency.filters`.
        ax: A matplotlib Axes to draw on. Defaults to `None` (a new figure).
        title: Axes title. Defaults to `None`.
        layer_means: Draw each layer's mean as a dashed segment. Defaults to `True`.
        max_labels: Label at most this many layers on the x axis. Defaults to `20`.
        ylabel: Label of the y axis. Defaults to `"filter saliency"`.

    Returns:
        The matplotlib `Figure`.

    Raises:
        ValueError: If `values` and `filters` disagree in length.

    Example:
        >>> fig = plot_profile(psal.profile(x[:1], y[:1])[0], psal.filters)
        >>> fig.savefig("profile.png")
    """
    sorted_values, _, groups = sort_layerwise(values, filters)
    if ax is None:
        fig = Figure(figsize=(max(6.0, min(14.0, 0.02 * len(sorted_values) + 5)), 3.5))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    positions = np.arange(len(sorted_values))
    for number, (_, start, stop) in enumerate(groups):
        if number % 2:
            ax.axvspan(start - 0.5, stop - 0.5, color="0.92", zorder=0)
        ax.plot(positions[start:stop], sorted_values[start:stop], color="C0", lw=1.2)
        if layer_means:
            ax.hlines(sorted_values[start:stop].mean(), start - 0.5, stop - 0.5, colors="C3",
                      linestyles="--", lw=1.0, label="layer mean" if number == 0 else None)
    step = max(1, int(np.ceil(len(groups) / max(1, max_labels))))
    shown = groups[::step]
    ax.set_xticks([(start + stop - 1) / 2 for _, start, stop in shown])
    ax.set_xticklabels([name for name, _, _ in shown], rotation=45, ha="right", fontsize=8)
    ax.set_xlim(-0.5, len(sorted_values) - 0.5)
    ax.set_xlabel("filters, grouped by layer and sorted within each layer")
    ax.set_ylabel(ylabel)
    if layer_means:
        ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def saliency_heatmap(saliency, percentiles: tuple[float, float] = (90.0, 99.0)) -> np.ndarray:
    """Turns an input-space saliency into a `(H, W)` map in [0, 1], as the reference code does.

    Takes the maximum over the channel axis, the absolute value, clips to the given
    percentiles (which keeps the top 10% of pixels and flattens the 1% outliers) and rescales
    to [0, 1]. A constant map becomes all zeros.

    Args:
        saliency: Gradient `(H, W)` or `(H, W, C)` of one image.
        percentiles: Lower and upper clipping percentiles. Defaults to `(90.0, 99.0)`.

    Returns:
        Float64 array `(H, W)` in [0, 1].

    Raises:
        ValueError: For a saliency of another rank, or invalid percentiles.

    Example:
        >>> heat = saliency_heatmap(psal.input_saliency(x[:1], y[:1])[0])
    """
    saliency = np.asarray(saliency, dtype=np.float64)
    if saliency.ndim == 3:
        saliency = saliency.max(axis=-1)
    if saliency.ndim != 2:
        raise ValueError(f"`saliency` must have shape (H, W) or (H, W, C); received "
                         f"{saliency.shape}.")
    low, high = percentiles
    if not 0.0 <= low <= high <= 100.0:
        raise ValueError(f"`percentiles` must satisfy 0 <= low <= high <= 100; received "
                         f"{percentiles!r}.")
    magnitude = np.abs(saliency)
    magnitude = np.clip(magnitude, np.percentile(magnitude, low), np.percentile(magnitude, high))
    span = magnitude.max() - magnitude.min()
    if span <= 0:
        return np.zeros_like(magnitude)
    return (magnitude - magnitude.min()) / span


def plot_input_saliency(image, saliency, ax=None, percentiles: tuple[float, float] = (90.0, 99.0),
                        alpha: float = 0.5, cmap: str = "jet", title: str | None = None) -> Figure:
    """Overlays an input-space saliency heat map on its image.

    Args:
        image: The image `(H, W)` or `(H, W, C)` (any range; rescaled for display).
        saliency: Its input-space saliency (see `ParameterSaliency.input_saliency`).
        ax: A matplotlib Axes to draw on. Defaults to `None` (a new figure).
        percentiles: Clipping percentiles of `saliency_heatmap`. Defaults to `(90.0, 99.0)`.
        alpha: Opacity of the heat map. Defaults to `0.5`.
        cmap: Colormap of the heat map. Defaults to `"jet"`.
        title: Axes title. Defaults to `None`.

    Returns:
        The matplotlib `Figure`.

    Raises:
        ValueError: If the image and the saliency differ in height and width.

    Example:
        >>> fig = plot_input_saliency(x[0], psal.input_saliency(x[:1], y[:1])[0])
    """
    image = np.asarray(image, dtype=np.float64)
    heat = saliency_heatmap(saliency, percentiles)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.shape[:2] != heat.shape:
        raise ValueError(f"`image` {image.shape} and `saliency` {np.shape(saliency)} must have "
                         "the same height and width.")
    span = image.max() - image.min()
    shown = (image - image.min()) / span if span > 0 else np.zeros_like(image)
    if ax is None:
        fig = Figure(figsize=(3.5, 3.5))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0.0, vmax=1.0)
    ax.imshow(heat, cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig
