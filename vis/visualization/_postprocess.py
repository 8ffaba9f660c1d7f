"""Shared last steps of every map: grad modifier, channel reduction, normalization, warnings."""

from __future__ import annotations

import warnings

import numpy as np

from vis import grad_modifiers
from vis.errors import ZeroMapWarning
from vis.utils.image import normalize as _normalize


def warn_if_zero(raw: np.ndarray, what: str) -> None:
    """Warns (never raises) when some samples' raw maps are exactly zero everywhere.

    Args:
        raw: A batch of raw maps `(N, ...)`.
        what: The map's name in the warning message (e.g. `"Grad-CAM"`).
    """
    flat = np.asarray(raw).reshape(len(raw), -1)
    zero = np.flatnonzero(~np.any(flat != 0, axis=1))
    if zero.size:
        warnings.warn(
            f"The {what} is all zero for sample(s) {zero.tolist()[:10]} (e.g. dead ReLU units or "
            "a target with no active path for this input); the map is returned as zeros.",
            ZeroMapWarning,
            stacklevel=3,
        )


def finish(
    raw: np.ndarray,
    single: bool,
    grad_modifier,
    keepdims: bool,
    normalize: bool,
    channel_axis: int = -1,
) -> np.ndarray:
    """Applies the grad modifier, the channel max (`keepdims=False`) and per-map [0, 1] scaling.

    Args:
        raw: A batch of raw maps `(N, ...)`.
        single: Drop the batch axis of the result (the input was one sample).
        grad_modifier: Anything `vis.grad_modifiers.get` accepts.
        keepdims: Keep the channel axis; else take the max over it.
        normalize: Min-max scale each map to [0, 1].
        channel_axis: The channel axis of `raw`. Defaults to `-1`.

    Returns:
        The finished maps (one map when `single`).
    """
    modifier = grad_modifiers.get(grad_modifier)
    raw = np.asarray(raw)
    maps = np.asarray(modifier(raw))
    if grad_modifier is not None and maps.shape == raw.shape:
        flat_raw = raw.reshape(len(raw), -1)
        flat = maps.reshape(len(maps), -1)
        emptied = np.flatnonzero(np.any(flat_raw != 0, axis=1) & ~np.any(flat != 0, axis=1))
        if emptied.size:
            warnings.warn(
                f"grad_modifier {grad_modifier!r} leaves an all-zero map for sample(s) "
                f"{emptied.tolist()[:10]} (e.g. 'relu' on a map with no positive gradient).",
                ZeroMapWarning,
                stacklevel=3,
            )
    if not keepdims and maps.ndim > 2:
        maps = np.max(maps, axis=channel_axis)
    if normalize:
        maps = _normalize(maps, batch=True)
    return maps[0] if single else maps
