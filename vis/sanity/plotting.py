"""Figures of the sanity checks, after Adebayo et al. (2018): similarity curves and map grids."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vis.sanity.metrics import reduce_channels
from vis.utils.image import to_rgb

__all__ = ["plot_scores", "plot_maps", "plot_comparison"]


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def plot_scores(result, ax=None):
    """Mean similarity (± one std over the inputs) of each metric at each step.

    A model randomization test gives one curve per metric across the steps (top layer first,
    like the paper's Figure 3); a data randomization test (one step) gives bars.

    Args:
        result: A `vis.sanity.Result`.
        ax: A matplotlib Axes to draw on. Defaults to `None` (a new figure).

    Returns:
        The matplotlib Figure.

    Example:
        >>> fig = plot_scores(result)
    """
    if ax is None:
        fig = _figure(figsize=(max(4.0, 0.9 * len(result.steps) + 2.5), 3.2), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    table = result.table()
    metrics = list(result.scores)
    if len(result.steps) == 1:
        step = result.steps[0]
        means = [table[step][m][0] for m in metrics]
        stds = [table[step][m][1] for m in metrics]
        ax.bar(np.arange(len(metrics)), means, yerr=stds, capsize=3, color="C0")
        ax.set_xticks(np.arange(len(metrics)), metrics)
    else:
        xs = np.arange(len(result.steps))
        for i, m in enumerate(metrics):
            mean = np.array([table[s][m][0] for s in result.steps])
            std = np.array([table[s][m][1] for s in result.steps])
            ax.plot(xs, mean, marker="o", color=f"C{i}", label=m)
            ax.fill_between(xs, mean - std, mean + std, color=f"C{i}", alpha=0.15)
        ax.set_xticks(xs, result.steps, rotation=45, ha="right")
        ax.set_xlabel("randomized up to" if result.mode == "cascading" else "randomized layer")
        ax.legend(fontsize="small")
    ax.axhline(0.0, color="gray", lw=0.8, ls="--")
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("similarity to original")
    ax.set_title(f"{result.method} ({result.mode})")
    return fig


def _display(maps: np.ndarray, channel_axis, signed: bool) -> tuple[np.ndarray, dict]:
    """2-D maps scaled for display: |map| in [0, 1] (gray), or map / max|map| in [-1, 1]."""
    m = reduce_channels(maps, channel_axis, absolute=not signed)
    flat = np.abs(m).reshape(len(m), -1).max(axis=1)
    scale = np.where(flat > 0, flat, 1.0).reshape((-1,) + (1,) * (m.ndim - 1))
    if signed:
        return m / scale, {"cmap": "bwr", "vmin": -1.0, "vmax": 1.0}
    return m / scale, {"cmap": "gray", "vmin": 0.0, "vmax": 1.0}


def _input_image(x: np.ndarray, channel_axis) -> np.ndarray:
    img = np.asarray(x, dtype="float32")
    if channel_axis == 1 and img.ndim == 3:
        img = np.moveaxis(img, 0, -1)
    if img.ndim == 3 and img.shape[-1] not in (1, 3, 4):
        img = img.mean(axis=-1)
    return to_rgb(img) if img.ndim >= 2 else img


def plot_maps(result, n_images: int = 4, signed: bool = False):
    """The grid of maps: one row per input, columns input, original model, then each step.

    Like the paper's cascading-randomization figure: absolute maps (summed over channels, each
    scaled by its maximum) in grayscale, or signed maps in a diverging colormap.

    Args:
        result: A `vis.sanity.Result`.
        n_images: Number of inputs (rows). Defaults to `4`.
        signed: Show signed maps. Defaults to `False`.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: If `n_images` is not a positive int or the maps are not 2-D images.

    Example:
        >>> fig = plot_maps(result, n_images=3)
    """
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 1:
        raise ValueError(f"`n_images` must be a positive int, got {n_images!r}.")
    n = min(int(n_images), len(result.inputs))
    columns = ["original", *result.steps]
    shown = {c: _display(result.maps[c][:n], result.map_channel_axis, signed) for c in columns}
    if shown["original"][0].ndim != 3:
        raise ValueError(
            f"`plot_maps` draws 2-D maps; these have shape {shown['original'][0].shape[1:]}."
        )
    fig = _figure(figsize=(1.3 * (len(columns) + 1), 1.4 * n + 0.6), layout="constrained")
    axes = fig.subplots(n, len(columns) + 1, squeeze=False)
    image_axis = result.channel_axis if result.inputs.ndim > 3 else None
    for i in range(n):
        axes[i, 0].imshow(_input_image(result.inputs[i], image_axis), cmap="gray")
        for j, col in enumerate(columns, start=1):
            maps, style = shown[col]
            axes[i, j].imshow(maps[i], **style)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    for j, title in enumerate(["input", *columns]):
        axes[0, j].set_title(title, fontsize="small", rotation=30 if j > 1 else 0)
    fig.suptitle(f"{result.method}: {result.mode} randomization")
    return fig


def plot_comparison(results: Mapping[str, object], metric: str = "spearman_abs", ax=None):
    """One curve per method for one metric: the paper's comparison of saliency methods.

    Args:
        results: `{label: Result}`, e.g. `{"gradient": r1, "guided_backprop": r2}`, all with
            the same steps.
        metric: The metric to draw. Defaults to `'spearman_abs'`.
        ax: A matplotlib Axes. Defaults to `None` (a new figure).

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: If `results` is empty, a result lacks `metric`, or the steps differ.

    Example:
        >>> fig = plot_comparison({"gradient": r1, "guided": r2}, metric="ssim")
    """
    if not results:
        raise ValueError("`results` is empty: give {label: Result}.")
    first = next(iter(results.values()))
    for label, res in results.items():
        if metric not in res.scores:
            raise ValueError(f"Result {label!r} has no metric {metric!r}: {list(res.scores)}.")
        if list(res.steps) != list(first.steps):
            raise ValueError(f"Result {label!r} has steps {res.steps}, expected {first.steps}.")
    if ax is None:
        fig = _figure(figsize=(max(4.0, 0.9 * len(first.steps) + 2.5), 3.2), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    xs = np.arange(len(first.steps))
    for i, (label, res) in enumerate(results.items()):
        mean = res.scores[metric].mean(axis=1)
        std = res.scores[metric].std(axis=1)
        ax.plot(xs, mean, marker="o", color=f"C{i}", label=label)
        ax.fill_between(xs, mean - std, mean + std, color=f"C{i}", alpha=0.15)
    ax.set_xticks(xs, first.steps, rotation=45, ha="right")
    ax.axhline(0.0, color="gray", lw=0.8, ls="--")
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel(f"{metric} to original")
    ax.legend(fontsize="small")
    return fig
