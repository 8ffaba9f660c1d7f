"""Feature ablation: how much the score drops when one feature (or group) is replaced.

The tabular and sequence counterpart of occlusion (Captum's `FeatureAblation`; Zeiler & Fergus
2014 for the idea, https://arxiv.org/abs/1311.2901). For inputs `(N, F)` or `(N, T, F)` each
group `g` of input elements (by default one element each; `axis="time"` whole time steps,
`axis="feature"` whole features; or `groups=` labels shaped like one input) is replaced by the
baseline, and every element of the group gets `f(x) - f(x with g replaced)`, `f` the
pre-softmax target score. All groups of all inputs are evaluated in large compiled batches. A
multi-input model gets the map of every input (or of those `input=` names), each ablated
separately; token ids (integer inputs) are replaced by an integer baseline id.
"""

from __future__ import annotations

import numpy as np

from vis.methods._base import Method, register
from vis.methods._perturb import (
    Evaluator,
    as_inputs,
    map_dtype,
    per_input_option,
    resolve_baseline,
    select_inputs,
)

__all__ = ["raw", "group_labels", "AXES"]

AXES = ("time", "feature")


def group_labels(sample_shape: tuple[int, ...], groups=None, axis: str | None = None
                 ) -> np.ndarray:
    """The group of each element of one input, renumbered `0..G-1`.

    Args:
        sample_shape: The shape of one input.
        groups: Int labels shaped like one input (elements sharing a label form a group).
            Defaults to `None`.
        axis: For sequences `(T, F)`: `"time"` (one group per time step) or `"feature"` (one
            per feature). Defaults to `None` (one group per element).

    Returns:
        An int array shaped `sample_shape`.

    Raises:
        ValueError: Both `groups` and `axis`, an unknown `axis`, `axis` on a non-sequence, or
            `groups` of the wrong shape.
        TypeError: Non-integer `groups`.

    Example:
        >>> group_labels((3, 2), axis="time").tolist()
        [[0, 0], [1, 1], [2, 2]]
    """
    if groups is not None and axis is not None:
        raise ValueError("Give `groups` or `axis`, not both.")
    if axis is not None:
        if axis not in AXES:
            raise ValueError(f"`axis` must be one of {list(AXES)}, got {axis!r}.")
        if len(sample_shape) != 2:
            raise ValueError(f"`axis` applies to sequences (N, T, F); the inputs have one "
                             f"sample shape {sample_shape}.")
        t, f = sample_shape
        labels = np.arange(t)[:, None] if axis == "time" else np.arange(f)[None, :]
        return np.broadcast_to(labels, sample_shape).copy()
    if groups is None:
        return np.arange(int(np.prod(sample_shape))).reshape(sample_shape)
    arr = np.asarray(groups)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"`groups` must hold integer labels, got dtype {arr.dtype}.")
    if arr.shape != tuple(sample_shape):
        raise ValueError(f"`groups` has shape {arr.shape}; expected one input's shape "
                         f"{tuple(sample_shape)}.")
    return np.unique(arr, return_inverse=True)[1].reshape(sample_shape)


def raw(model, inputs, targets, *, output=-1, groups=None, axis: str | None = None,
        baseline=0.0, input=None, batch_size: int | None = None,
        verbose: bool | None = None):
    """Feature ablation maps: the score drop when each element's group is ablated, signed.

    Args:
        model: A Keras model (never modified).
        inputs: A validated batch, e.g. tabular `(N, F)` or sequences `(N, T, F)`; for a
            multi-input model, a list of batches.
        targets: One class / unit index per sample.
        output: The output layer whose (pre-softmax) score is explained. Defaults to `-1`.
        groups: Int labels shaped like one input: elements sharing a label are ablated
            together (for several inputs, a dict keyed by input name). Defaults to `None`
            (each element alone).
        axis: For sequences: `"time"` (ablate whole time steps) or `"feature"` (whole
            features); for several inputs, a dict keyed by input name. Defaults to `None`.
        baseline: The replacement: a number, an array (one input, the batch, or broadcastable
            to one input), or `"mean"` (the mean input of the explained batch); for several
            inputs, also a list or a dict with one entry per input. For an integer input (token
            ids), an integer (e.g. the padding id). Defaults to `0.0`.
        input: The model input(s) to ablate, each one separately while the others keep their
            values (multi-input models): an index, a name, or a list of them. Defaults to
            `None` (every input).
        batch_size: Ablated copies per compiled call. Defaults to `None` (about 64 MB).
        verbose: Progress bar: `None` (when the work should take more than 2 s), `True` or
            `False`. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`; for a multi-input model, a list with one map per input,
        `None` for the inputs not ablated.

    Raises:
        ValueError: Bad `groups`, `axis`, `baseline` or `input`.

    Example:
        >>> maps = raw(model, x_tab, y, baseline="mean")
        >>> image_map, table_map = raw(two_input_model, [images, table], y)
    """
    xs, multi = as_inputs(inputs)
    chosen = select_inputs(model, xs, input, "feature_ablation", lambda x: None)
    n = len(xs)
    labels = per_input_option(model, groups, "groups", None, n)
    axes = per_input_option(model, axis, "axis", None, n)
    bases = per_input_option(model, baseline, "baseline", 0.0, n, sequences=True)
    maps: list = [None] * n
    for k in chosen:
        maps[k] = _ablation(model, xs, k, targets, output, labels[k], axes[k], bases[k],
                            batch_size, verbose)
    return maps if multi else maps[0]


def _ablation(model, xs: list[np.ndarray], index: int, targets, output, groups, axis, baseline,
              batch_size, verbose) -> np.ndarray:
    """The feature ablation map of input `index` (the others held at their values)."""
    x = xs[index]
    labels = group_labels(x.shape[1:], groups, axis)
    n_groups = int(labels.max()) + 1
    if x.dtype.kind in "iub":
        _check_integer_baseline(baseline)
    base = resolve_baseline(baseline, x, mean_axes=(0,))

    def ablated(i: int, sl: slice) -> np.ndarray:
        hit = labels[None] == np.arange(sl.start, sl.stop).reshape((-1,) + (1,) * labels.ndim)
        return np.where(hit, base[i], x[i])

    ev = Evaluator(model, xs if len(xs) > 1 else x, targets, output=output, input_index=index,
                   batch_size=batch_size, verbose=verbose, desc="feature_ablation",
                   work=("groups", groups))
    clean = np.concatenate(ev.run([1] * len(x), lambda i, sl: x[i:i + 1]))
    drops = clean[:, None] - np.stack(ev.run([n_groups] * len(x), ablated))
    return drops[:, labels].astype(map_dtype(x))


def _check_integer_baseline(baseline) -> None:
    """Token ids are replaced by ids: `baseline` must hold integers (not `"mean"`, not 0.5)."""
    if isinstance(baseline, str) or isinstance(baseline, (bool, np.bool_)):
        raise ValueError(f"`baseline` of an integer input (token ids) must be an integer id, "
                         f"e.g. the padding id 0; got {baseline!r}.")
    b = np.asarray(baseline)
    if not np.issubdtype(b.dtype, np.number) or not np.all(np.isfinite(b)) \
            or not np.all(np.mod(b, 1) == 0):
        raise ValueError(f"`baseline` of an integer input (token ids) must hold integer ids, "
                         f"e.g. the padding id 0; got {baseline!r}.")


register(Method(
    "feature_ablation", raw, family="perturbation", signed=True, aliases=("ablation",),
    description="Drop of the score when a feature, time step or group is replaced by a baseline.",
    paper="Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901",
))
