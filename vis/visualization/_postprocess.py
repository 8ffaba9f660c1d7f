"""Shared last steps of every map: grad modifier, channel reduction, normalization, warnings.

`finish` / `finish_inputs` do them in NumPy on raw maps. `GraphFinish` does the same inside the
compiled gradient function (for the built-in grad modifiers, see
`vis.grad_modifiers.tensor_twin`), returning finished maps and a few per-sample flags, from
which `check_flags` raises and warns exactly as `finish_inputs` does: no host pass over the
raw maps (the hot path of `visualize_saliency`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

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


# --- in the compiled function ------------------------------------------------------------------

# the per-sample flags `GraphFinish` returns, one column each
RAW_NONZERO, MAP_FINITE, MAP_NONZERO = 0, 1, 2


@dataclass(frozen=True)
class GraphFinish:
    """`finish` inside the compiled gradient function: modifier, channel max, normalization.

    A hashable value (part of the compiled function's cache key, see `vis.engine.gradients`'
    `post`), called on the traced gradients. Results equal `finish`'s to float32 precision
    (the same float32 operations in the same order).

    Args:
        modifier: The name of a built-in grad modifier (`vis.grad_modifiers.tensor_twin`), or
            `None` (the raw gradient).
        keepdims: Keep the channel axis; else take the max over it.
        normalize: Min-max scale each map to [0, 1] (a constant map gives zeros).
        channel_axes: The channel axis of each gradient (`None`: it has none).
    """

    modifier: str | None
    keepdims: bool
    normalize: bool
    channel_axes: tuple

    def __call__(self, grads: list) -> tuple[list, list]:
        import keras

        from vis import grad_modifiers

        op = grad_modifiers.tensor_twin(self.modifier)
        maps, flags = [], []
        for g, caxis in zip(grads, self.channel_axes):
            n = keras.ops.shape(g)[0]
            flat = keras.ops.reshape(g, (n, -1))
            raw_nonzero = keras.ops.any(keras.ops.not_equal(flat, 0.0), axis=1)
            if self.modifier in (None, "linear"):
                m, finite, nonzero = g, keras.ops.ones_like(raw_nonzero), raw_nonzero
            else:
                m = op(g)
                mflat = keras.ops.reshape(m, (n, -1))
                finite = keras.ops.all(keras.ops.isfinite(mflat), axis=1)
                nonzero = keras.ops.any(keras.ops.not_equal(mflat, 0.0), axis=1)
            if not self.keepdims and len(m.shape) > 2 and caxis is not None:
                m = keras.ops.max(m, axis=caxis)
            if self.normalize:
                m = _normalize_tensor(m)
            maps.append(m)
            flags.append(keras.ops.stack([raw_nonzero, finite, nonzero], axis=1))
        return maps, flags


def _normalize_tensor(maps):
    """`vis.utils.image.normalize(maps, batch=True)` in `keras.ops` (float32)."""
    import keras

    axes = tuple(range(1, len(maps.shape)))
    lo = keras.ops.min(maps, axis=axes, keepdims=True)
    hi = keras.ops.max(maps, axis=axes, keepdims=True)
    span = hi - lo
    positive = span > 0
    safe = keras.ops.where(positive, span, keras.ops.ones_like(span))
    return keras.ops.where(positive, (maps - lo) / safe, keras.ops.zeros_like(maps))


def graph_finish(model, batch, grad_modifier, keepdims: bool, normalize: bool,
                 channel_axes=None) -> GraphFinish | None:
    """The `GraphFinish` equivalent to `finish_inputs(...)` for these maps, if there is one.

    There is one for a built-in grad modifier (by name or `None`) on float inputs (maps shaped
    like the inputs); a callable or user-registered modifier, and token inputs (whose maps get
    an embedding axis), keep the NumPy path.

    Args:
        model: The model.
        batch: The `vis.inputs.Batch` explained.
        grad_modifier: The `grad_modifier` argument.
        keepdims: Keep the channel axis.
        normalize: Min-max scale each map.
        channel_axes: The maps' channel axes, if not the inputs' (e.g. `wrt_tensor` maps).
            Defaults to `None`.

    Returns:
        A `GraphFinish`, or `None`.
    """
    if grad_modifier is not None and not isinstance(grad_modifier, str):
        return None
    if grad_modifiers.tensor_twin(grad_modifier) is None:
        return None
    if channel_axes is None:
        if any(a.dtype.kind not in "f" for a in batch.arrays):
            return None
        channel_axes = tuple(maps_channel_axis(model, a, a) for a in batch.arrays)
    return GraphFinish(grad_modifier, bool(keepdims), bool(normalize), tuple(channel_axes))


def check_flags(flags: list, grad_modifier, what: str) -> None:
    """Raises and warns from `GraphFinish`'s flags as `finish_inputs` does from the maps.

    Args:
        flags: One `(N, 3)` boolean array per map (see `GraphFinish`).
        grad_modifier: The `grad_modifier` argument (for the messages).
        what: The map's name in warnings.

    Raises:
        ValueError: If the modifier gave non-finite values.
    """
    for f in flags:
        zero = np.flatnonzero(~f[:, RAW_NONZERO])
        if zero.size:
            warnings.warn(
                f"The {what} is all zero for sample(s) {zero.tolist()[:10]} (e.g. dead ReLU "
                "units or a target with no active path for this input); the map is returned as "
                "zeros.",
                ZeroMapWarning,
                stacklevel=3,
            )
        if not f[:, MAP_FINITE].all():
            raise ValueError(
                f"`grad_modifier` {grad_modifier!r} returned non-finite (NaN or inf) or "
                "non-numeric values."
            )
        if grad_modifier is not None:
            emptied = np.flatnonzero(f[:, RAW_NONZERO] & ~f[:, MAP_NONZERO])
            if emptied.size:
                warnings.warn(
                    f"grad_modifier {grad_modifier!r} leaves an all-zero map for sample(s) "
                    f"{emptied.tolist()[:10]} (e.g. 'relu' on a map with no positive gradient).",
                    ZeroMapWarning,
                    stacklevel=3,
                )
