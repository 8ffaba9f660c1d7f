"""Shared last steps of every map: grad modifier, channel reduction, normalization, warnings."""

from __future__ import annotations

import warnings

import numpy as np

from vis import grad_modifiers
from vis.errors import ZeroMapWarning
from vis.utils import checks
from vis.utils.image import normalize as _normalize
from vis.utils.model import input_channel_axis


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
    channel_axis: int | None = -1,
) -> np.ndarray:
    """Applies the grad modifier, the channel max (`keepdims=False`) and per-map [0, 1] scaling.

    Args:
        raw: A batch of raw maps `(N, ...)`.
        single: Drop the batch axis of the result (the input was one sample).
        grad_modifier: Anything `vis.grad_modifiers.get` accepts.
        keepdims: Keep the channel axis; else take the max over it.
        normalize: Min-max scale each map to [0, 1].
        channel_axis: The channel axis of `raw`, or `None` if it has none. Defaults to `-1`.

    Returns:
        The finished maps (one map when `single`).

    Raises:
        ValueError: If a callable `grad_modifier` returns a different shape, `None`, or
            non-finite values.
        TypeError: If `keepdims` or `normalize` is not a boolean.
    """
    keepdims = checks.boolean(keepdims, "keepdims")
    normalize = checks.boolean(normalize, "normalize")
    modifier = grad_modifiers.checked(grad_modifier)
    raw = np.asarray(raw)
    maps = modifier(raw)
    if maps is None or np.shape(maps) != raw.shape:
        raise ValueError(
            f"`grad_modifier` {grad_modifier!r} returned "
            f"{'None' if maps is None else f'shape {np.shape(maps)}'} for maps of shape "
            f"{raw.shape}; a grad modifier must return an array of the same shape."
        )
    maps = np.asarray(maps)
    if not np.issubdtype(maps.dtype, np.number) or not np.all(np.isfinite(maps)):
        raise ValueError(
            f"`grad_modifier` {grad_modifier!r} returned non-finite (NaN or inf) or non-numeric "
            "values."
        )
    if grad_modifier is not None:
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
    if not keepdims and maps.ndim > 2 and channel_axis is not None:
        maps = np.max(maps, axis=channel_axis)
    if normalize:
        maps = _normalize(maps, batch=True)
    return maps[0] if single else maps


def maps_channel_axis(model, raw: np.ndarray, x: np.ndarray) -> int | None:
    """The channel axis of raw maps of input `x`: the embedding axis of a token input's maps,
    else the input's channel axis where the model reads one (`input_channel_axis`)."""
    if raw.ndim == x.ndim + 1:
        return -1
    return input_channel_axis(model, raw.ndim, x.ndim)


def finish_inputs(model, raws, batch, grad_modifier, keepdims: bool, normalize: bool,
                  what: str):
    """`finish` for each input's raw maps, returned in the structure of the user's inputs.

    Args:
        model: The model.
        raws: One raw batch of maps, or a list with one per input.
        batch: The `vis.inputs.Batch` the maps explain.
        grad_modifier: Anything `vis.grad_modifiers.get` accepts.
        keepdims: Keep the channel axis.
        normalize: Min-max scale each map to [0, 1].
        what: The map's name in warnings.

    Returns:
        The finished maps, in the structure of the inputs (an array for a single-input model).
    """
    raws = raws if isinstance(raws, list) else [raws]
    out = []
    for raw, x in zip(raws, batch.arrays):
        warn_if_zero(raw, what)
        out.append(finish(raw, False, grad_modifier, keepdims, normalize,
                          maps_channel_axis(model, np.asarray(raw), x)))
    return batch.restore(out)
