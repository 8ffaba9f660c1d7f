"""Occlusion (Zeiler & Fergus 2014): how much the score drops when a window is hidden.

Paper: "Visualizing and Understanding Convolutional Networks", https://arxiv.org/abs/1311.2901.
A window of `window` pixels (all channels) slides over the spatial axes by `strides`; each
position `w` replaces the window by the baseline and scores `d_w = f(x) - f(x with w replaced)`,
`f` the pre-softmax target score. As in Captum's `Occlusion`, a pixel's attribution is the mean
of `d_w` over the windows that contain it (windows start at multiples of the stride; the last
one along an axis may be cut by the border; a pixel in no window gets 0). The windows are built
with NumPy broadcasting and evaluated in large compiled batches. A multi-input model gets the
map of each input with spatial axes (or of those `input=` names), each occluded separately.
"""

from __future__ import annotations

import math

import numpy as np

from vis.methods._base import Method, register
from vis.methods._perturb import (
    Evaluator,
    as_inputs,
    channel_axis_of,
    expand_spatial,
    map_dtype,
    per_input_option,
    resolve_baseline,
    select_inputs,
    spatial_axes,
)

__all__ = ["raw", "window_starts"]


def _per_axis(value, name: str, sizes: tuple[int, ...]) -> tuple[int, ...]:
    values = (value,) * len(sizes) if isinstance(value, (int, np.integer)) else value
    try:
        values = tuple(values)
    except TypeError:
        values = None
    if (values is None or len(values) != len(sizes)
            or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1
                   for v in values)):
        raise ValueError(f"`{name}` must be a positive int or {len(sizes)} positive ints (one "
                         f"per spatial axis), got {value!r}.")
    return tuple(int(v) for v in values)


def window_starts(size: int, window: int, stride: int) -> np.ndarray:
    """The start of each window along one axis (Captum's shift count, empty windows dropped).

    `1 + ceil((size - window) / stride)` windows start at multiples of `stride`; the last may
    reach past the border (it is cut there).

    Example:
        >>> window_starts(8, 3, 2)
        array([0, 2, 4, 6])
    """
    starts = np.arange(math.ceil((size - window) / stride) + 1) * stride
    return starts[starts < size]


def raw(model, inputs, targets, *, output=-1, window=None, strides=None, baseline=0.0,
        input=None, batch_size: int | None = None, verbose: bool | None = None):
    """Occlusion maps: the mean score drop of the windows covering each pixel, signed.

    Args:
        model: A Keras model (never modified).
        inputs: A validated batch of images `(N, H, W, C)` (or signals `(N, L, C)`); for a
            multi-input model, a list of batches.
        targets: One class / unit index per sample.
        output: The output layer whose (pre-softmax) score is explained. Defaults to `-1`.
        window: The window's size along the spatial axes: an int or one int per axis (a dict
            keyed by input name for several inputs). Defaults to `None` (`max(1, size // 8)`
            per axis: an 8 x 8 grid of windows).
        strides: The step between windows: an int or one per axis (or a dict by input name).
            Defaults to `None` (the window: no overlap).
        baseline: What replaces a window: a number, an array (one input, the batch, or one value
            per channel), `"mean"` (each image's per-channel mean) or `"blur"` (a Gaussian blur
            of the image, sigma `max(1, size / 8)` pixels per axis); for several inputs, also
            a list or a dict with one entry per input. Defaults to `0.0`.
        input: The model input(s) to occlude, each one separately while the others keep their
            values (multi-input models): an index, a name, or a list of them. Defaults to
            `None` (every input with spatial axes).
        batch_size: Occluded copies per compiled call. Defaults to `None` (about 64 MB).
        verbose: Progress bar: `None` (when the work should take more than 2 s), `True` or
            `False`. Defaults to `None`.

    Returns:
        Maps shaped like `inputs` (the same value in every channel of a pixel); for a
        multi-input model, a list with one map per input, `None` for the inputs not occluded.

    Raises:
        ValueError: A window larger than the image, non-positive windows or strides, a bad
            baseline, inputs without spatial axes, or an `input` that cannot be occluded.

    Example:
        >>> maps = raw(model, x, y, window=3, strides=1)
        >>> image_map, _ = raw(two_input_model, [images, table], y, input="image")
    """
    xs, multi = as_inputs(inputs)
    chosen = select_inputs(model, xs, input, "occlusion", _unoccludable)
    n = len(xs)
    windows = per_input_option(model, window, "window", None, n)
    steps = per_input_option(model, strides, "strides", None, n)
    bases = per_input_option(model, baseline, "baseline", 0.0, n, sequences=True)
    maps: list = [None] * n
    for k in chosen:
        maps[k] = _occlusion(model, xs, k, targets, output, windows[k], steps[k], bases[k],
                             batch_size, verbose)
    return maps if multi else maps[0]


def _unoccludable(x: np.ndarray) -> str | None:
    if x.ndim < 3:
        return f"has shape {x.shape[1:]} per sample, no spatial axes (use 'feature_ablation')"
    return None


def _occlusion(model, xs: list[np.ndarray], index: int, targets, output, window, strides,
               baseline, batch_size, verbose) -> np.ndarray:
    """The occlusion map of input `index` (the others held at their values)."""
    x = xs[index]
    axes = spatial_axes(model, x, "occlusion")
    sizes = tuple(x.shape[a] for a in axes)
    window = tuple(max(1, s // 8) for s in sizes) if window is None else _per_axis(
        window, "window", sizes)
    for w, s in zip(window, sizes):
        if w > s:
            raise ValueError(f"`window` {window} is larger than the image's spatial shape "
                             f"{sizes}.")
    strides = window if strides is None else _per_axis(strides, "strides", sizes)
    base = resolve_baseline(baseline, x, mean_axes=axes, blur_axes=axes)
    caxis = channel_axis_of(model, x)

    # per axis: which pixels each window position covers, (positions, size) booleans
    covers = [(np.arange(s)[None] >= st[:, None]) & (np.arange(s)[None] < st[:, None] + w)
              for s, w, st in ((s, w, window_starts(s, w, d))
                               for s, w, d in zip(sizes, window, strides))]
    grid = tuple(len(c) for c in covers)
    n_windows = math.prod(grid)

    def occluded(i: int, sl: slice) -> np.ndarray:
        pos = np.unravel_index(np.arange(sl.start, sl.stop), grid)
        mask = covers[0][pos[0]]
        for axis in range(1, len(grid)):
            mask = mask[..., None] & covers[axis][pos[axis]].reshape(
                (len(pos[0]),) + (1,) * axis + (sizes[axis],))
        return np.where(expand_spatial(mask, x, caxis), base[i], x[i])

    ev = Evaluator(model, xs if len(xs) > 1 else x, targets, output=output, input_index=index,
                   batch_size=batch_size, verbose=verbose, desc="occlusion",
                   work=("strides", strides))
    clean = np.concatenate(ev.run([1] * len(x), lambda i, sl: x[i:i + 1]))
    drops = clean[:, None] - np.stack(ev.run([n_windows] * len(x), occluded))
    total = drops.reshape((len(x),) + grid)
    count = np.ones(grid)
    for c in covers:  # sum over the windows covering each pixel, one axis at a time
        c = c.astype("float64")
        total = np.tensordot(total, c, axes=([1], [0]))
        count = np.tensordot(count, c, axes=([0], [0]))
    maps = np.where(count > 0, total / np.where(count > 0, count, 1.0), 0.0)
    return np.broadcast_to(expand_spatial(maps, x, caxis), x.shape).astype(map_dtype(x))


register(Method(
    "occlusion", raw, family="perturbation", signed=True,
    description="Mean drop of the score when sliding windows covering the pixel are hidden.",
    paper="Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901",
))
