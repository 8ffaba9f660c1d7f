"""Plots for PatternNet: signal-estimator quality per layer, and maps side by side.

`plot_signal_quality` draws rho(S) per layer for several estimators (the paper's Figure 3);
`compare_maps` computes the maps of registered methods (by default PatternNet,
PatternAttribution, gradient, deconvnet, guided backprop and LRP) of the same samples, and
`plot_maps` shows them in a grid (one row per sample).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np

from vis.methods import PATTERN_COMPARISON
from vis.pattern import _layers
from vis.pattern._explain import target_indices
from vis.pattern.lrp import _RULES as LRP_RULES
from vis.pattern.patterns import Patterns

__all__ = ["plot_signal_quality", "compare_maps", "plot_maps", "METHODS"]

METHODS = PATTERN_COMPARISON
"""The default methods of `compare_maps`: those of Kindermans et al. (2018)'s comparison,
`vis.methods.PATTERN_COMPARISON`."""


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
    """Raw signed maps of several registered methods for the same samples and output neurons.

    Every map is `vis.explain`'s, of the pre-softmax output neuron: the default methods (those of
    Kindermans et al. 2018, `METHODS`) are PatternNet, PatternAttribution and LRP, which start
    at `y_k` (their reference definition), and the gradient, deconvnet and guided backprop
    (`d y_k / d x` with the respective backprop modifier). Any registered method works.

    Args:
        model: A Keras ReLU network (never modified).
        seed_input: A batch of samples (or one sample).
        filter_indices: An int or one int per sample.
        patterns: Fitted `Patterns`, for the methods that need them (`Method.requires`).
            Defaults to `None`.
        methods: Registered method names or aliases (`vis.methods.names(aliases=True)`); the
            result is keyed by these spellings. Defaults to `METHODS`.
        lrp_rule: The rule of the LRP methods (the registry's `lrp_<rule>` methods):
            `'epsilon'` or `'alpha_beta'`. Defaults to `'epsilon'`.
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        `{method: maps}`, maps shaped like `seed_input`.

    Raises:
        ValueError: An unknown method or `lrp_rule`, or a method that needs `patterns`
            without them.
        TypeError: A subclassed model (rebuild it with the Functional API).

    Example:
        >>> maps = compare_maps(model, x_test[:4], y_test[:4], patterns)
        >>> fig = plot_maps(maps, x_test[:4])
    """
    from vis import explain
    from vis import methods as registry

    _layers.check_model(model)
    unknown = [m for m in methods if m not in registry.REGISTRY]
    if unknown:
        raise ValueError(
            f"Unknown `methods` {unknown}; valid: the registered names and aliases "
            f"{registry.names(aliases=True)}."
        )
    if lrp_rule not in LRP_RULES:
        raise ValueError(f"`lrp_rule` must be one of {list(LRP_RULES)}, got {lrp_rule!r}.")
    lrp_methods = {f"lrp_{rule}" for rule in LRP_RULES}
    chosen = {}
    for name in methods:
        method = registry.get(name)
        chosen[name] = registry.get(f"lrp_{lrp_rule}") if method.name in lrp_methods else method
    needing = [name for name, method in chosen.items() if "patterns" in method.requires]
    if patterns is None and needing:
        raise ValueError(
            f"`patterns` is required for {needing}: fit them with "
            "`vis.pattern.fit_patterns(model, x_train)`."
        )
    n = len(seed_input) if np.ndim(seed_input) == len(model.inputs[0].shape) else 1
    targets = target_indices(filter_indices, n)
    out = {}
    for name, method in chosen.items():
        options = {"patterns": patterns} if "patterns" in method.requires else {}
        out[name] = explain(model, seed_input, method, targets, batch_size=batch_size, **options)
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
