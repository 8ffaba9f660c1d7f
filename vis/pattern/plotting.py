"""Plots for PatternNet: signal-estimator quality per layer, and maps side by side.

`plot_signal_quality` draws rho(S) per layer for several estimators (the paper's Figure 3);
`compare_maps` computes PatternNet, PatternAttribution, gradient, deconvnet, guided backprop and
LRP maps of the same samples, and `plot_maps` shows them in a grid (one row per sample).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np

from vis.pattern import _layers
from vis.pattern._explain import target_indices
from vis.pattern.explainers import PatternAttribution, PatternNet
from vis.pattern.lrp import LRP
from vis.pattern.patterns import Patterns

__all__ = ["plot_signal_quality", "compare_maps", "plot_maps", "METHODS"]

METHODS = ("patternnet", "patternattribution", "gradient", "deconvnet", "guided", "lrp")


def plot_signal_quality(results: Mapping[str, Mapping[str, float]], ax=None):
    """Plots rho(S) per layer, one line per estimator.

    Args:
        results: `{estimator name: {layer path: rho}}`, e.g. one `signal_quality` result per
            estimator.
        ax: A matplotlib `Axes` to draw on. Defaults to `None` (a new figure).

    Returns:
        The matplotlib `Axes`.

    Raises:
        ValueError: If `results` is empty.

    Example:
        >>> results = {e: signal_quality(model, x, estimator=e) for e in ESTIMATORS}
        >>> ax = plot_signal_quality(results)
    """
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("`results` is empty: pass {estimator: {layer: rho}}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    layers = list(dict.fromkeys(layer for res in results.values() for layer in res))
    xs = np.arange(len(layers))
    for name, res in results.items():
        ax.plot(xs, [res.get(layer, np.nan) for layer in layers], marker="o", label=name)
    ax.set_xticks(xs)
    ax.set_xticklabels(layers, rotation=30, ha="right")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel(r"$\rho(S)$")
    ax.set_title("Signal-estimator quality (higher is better)")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def compare_maps(
    model: keras.Model,
    seed_input,
    filter_indices,
    patterns: Patterns | None = None,
    methods: Sequence[str] = METHODS,
    lrp_rule: str = "epsilon",
    batch_size: int | None = None,
) -> dict[str, np.ndarray]:
    """Raw signed maps of several methods for the same samples and output neurons.

    `patternnet`, `patternattribution` and `lrp` start at `y_k` (their reference definition);
    `gradient`, `deconvnet` and `guided` are `d y_k / d x` with the respective backprop modifier.

    Args:
        model: A Keras ReLU network (never modified).
        seed_input: A batch of samples (or one sample).
        filter_indices: An int or one int per sample.
        patterns: Fitted `Patterns` (needed for the pattern methods). Defaults to `None`.
        methods: Names from `METHODS`. Defaults to all.
        lrp_rule: `'epsilon'` or `'alpha_beta'`. Defaults to `'epsilon'`.
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        `{method: maps}`, maps shaped like `seed_input`.

    Raises:
        ValueError: An unknown method, or a pattern method without `patterns`.
        TypeError: A subclassed model (rebuild it with the Functional API).

    Example:
        >>> maps = compare_maps(model, x_test[:4], y_test[:4], patterns)
        >>> fig = plot_maps(maps, x_test[:4])
    """
    from vis.visualization import visualize_saliency

    _layers.check_model(model)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown `methods` {unknown}; valid: {list(METHODS)}.")
    if patterns is None and {"patternnet", "patternattribution"} & set(methods):
        raise ValueError("`patterns` is required for 'patternnet' and 'patternattribution'.")
    n = len(seed_input) if np.ndim(seed_input) == len(model.inputs[0].shape) else 1
    targets = target_indices(filter_indices, n)
    out = {}
    for method in methods:
        if method == "patternnet":
            out[method] = PatternNet(model, patterns).explain(seed_input, targets, batch_size)
        elif method == "patternattribution":
            out[method] = PatternAttribution(model, patterns).explain(seed_input, targets, batch_size)
        elif method == "lrp":
            out[method] = LRP(model, lrp_rule).explain(seed_input, targets, batch_size)
        else:
            modifier = {"gradient": None, "deconvnet": "deconvnet", "guided": "guided"}[method]
            out[method] = visualize_saliency(
                model, -1, targets, seed_input, backprop_modifier=modifier, grad_modifier=None,
                keepdims=True, normalize=False, batch_size=batch_size,
            )
    return out


def plot_maps(maps: Mapping[str, np.ndarray], images=None, cmap: str = "seismic", size: float = 1.6):
    """Shows maps side by side: one row per sample, one column per method (input first).

    Each map is summed over channels and shown on a symmetric color scale (`[-max|m|, max|m|]`
    per map), so the sign is visible.

    Args:
        maps: `{method: maps}` as returned by `compare_maps` (batches of the same size, or maps
            of one sample without a batch axis when `images` is a batch of one).
        images: The input images (a batch), shown in the first column; maps with one axis fewer
            than `images` are taken as one sample. Defaults to `None`.
        cmap: A diverging colormap. Defaults to `'seismic'`.
        size: Inches per panel. Defaults to `1.6`.

    Returns:
        The matplotlib `Figure`.

    Raises:
        ValueError: If `maps` is empty, the batches differ in size or do not match `images`.

    Example:
        >>> fig = plot_maps(compare_maps(model, x[:3], y[:3], patterns), x[:3])
        >>> fig = plot_maps(compare_maps(model, x[0], 3, patterns), x[:1])
    """
    import matplotlib.pyplot as plt

    if not maps:
        raise ValueError("`maps` is empty.")
    arrays = {k: np.asarray(v) for k, v in maps.items()}
    if images is not None:
        images = np.asarray(images)
        # compare_maps on one sample returns maps without a batch axis: add it
        arrays = {k: v[None] if v.ndim == images.ndim - 1 else v for k, v in arrays.items()}
    sizes = {len(v) for v in arrays.values()}
    if len(sizes) != 1:
        raise ValueError(f"All map batches must have the same size, got {sorted(sizes)}.")
    n = sizes.pop()
    if images is not None and len(images) != n:
        raise ValueError(
            f"`images` has {len(images)} samples but the maps have {n} (pass the batch the maps "
            "were computed on)."
        )
    cols = list(arrays) if images is None else ["input", *arrays]
    fig, axes = plt.subplots(n, len(cols), figsize=(size * len(cols), size * n), squeeze=False)
    for i in range(n):
        for j, name in enumerate(cols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=8)
            if name == "input":
                img = np.asarray(images[i], dtype="float64")
                ax.imshow(img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img, cmap="gray")
                continue
            m = arrays[name][i]
            m = m.sum(axis=-1) if m.ndim == 3 else m
            lim = float(np.max(np.abs(m))) or 1.0
            ax.imshow(m, cmap=cmap, vmin=-lim, vmax=lim)
    fig.tight_layout()
    return fig
