"""Shared steps of the sanity checks: argument checks, running an explainer, scoring maps."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from vis.sanity import explainers as _explainers
from vis.sanity import metrics as _metrics
from vis.utils import checks
from vis.visualization import ZeroMapWarning

DEFAULT_METRICS = ("spearman_abs", "spearman", "ssim", "hog")
TARGETS = ("label", "predicted")


def method_name(method) -> str:
    """A display name for an explainer name or callable."""
    if isinstance(method, str):
        return method
    return getattr(method, "__name__", type(method).__name__)


def check_target(target) -> str:
    if target not in TARGETS:
        raise ValueError(f"`target` must be one of {list(TARGETS)}, got {target!r}.")
    return target


def check_seed(seed) -> int | None:
    return checks.seed(seed, "seed")


def check_batch_size(batch_size) -> int | None:
    return checks.batch_size(batch_size, "batch_size")


def metric_functions(metrics) -> dict[str, Callable]:
    """`{name: fn}` for a sequence of metric names / callables (validated)."""
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    if not isinstance(metrics, Sequence) or not metrics:
        raise ValueError(
            f"`metrics` must be a non-empty sequence of metric names or callables, got {metrics!r}. "
            f"Valid names: {_metrics.names()}."
        )
    out: dict[str, Callable] = {}
    for item in metrics:
        fn = _metrics.get(item)
        if not isinstance(item, str) and not _accepts(fn, "channel_axis"):
            raise TypeError(
                f"`metrics`: the custom metric {getattr(fn, '__name__', fn)!r} must take "
                "`(a, b, channel_axis=None)` and return one value per map, (N,)."
            )
        name = item if isinstance(item, str) else getattr(fn, "__name__", f"metric_{len(out)}")
        if name in out:
            raise ValueError(f"`metrics` names {name!r} twice: {list(metrics)!r}.")
        out[name] = fn
    return out


def labels(y, n: int, units: int | None, param: str = "y") -> np.ndarray:
    """Integer class indices `(n,)` from `y` (ints, or one-hot / scores of shape `(n, units)`)."""
    arr = np.asarray(y) if not isinstance(y, (list, tuple)) else None
    one_hot = (arr is not None and arr.ndim == 2 and units is not None and units > 1
               and arr.shape[1] == units)
    if not one_hot:  # booleans are fine in one-hot rows, never as class indices
        checks.no_booleans(y, param)
    arr = np.asarray(y)
    if arr.ndim == 0:
        arr = arr[None]
    if arr.ndim == 2 and units is not None and arr.shape[1] == units and units > 1:
        arr = arr.argmax(axis=1)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(
            f"`{param}` must hold one class index per input ({n}), or one-hot rows, got shape "
            f"{np.shape(y)}."
        )
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.mod(arr, 1) == 0):
            raise ValueError(f"`{param}` must hold integer class indices, got {arr[:5]!r}...")
        arr = arr.astype("int64")
    if units is not None and (arr.min() < 0 or arr.max() >= units):
        raise ValueError(
            f"`{param}` has class indices outside 0..{units - 1} (the model has {units} outputs): "
            f"min {arr.min()}, max {arr.max()}."
        )
    return arr.astype("int64")


def _accepts(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def explain(fn: Callable, model, x: np.ndarray, y: np.ndarray, batch_size, where: str) -> np.ndarray:
    """Runs an explainer and checks its maps (one finite map per input).

    `ZeroMapWarning`s are silenced: randomized models legitimately produce all-zero maps, and
    the metrics give constant maps documented values.
    """
    kwargs = {"batch_size": batch_size} if batch_size is not None and _accepts(fn, "batch_size") \
        else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZeroMapWarning)
        if isinstance(fn, _explainers.Explainer):  # vis' own: its errors are already clear
            maps = fn(model, x, y, **kwargs)
        else:  # a user's callable: its errors name `method`
            maps = checks.call(fn, "method", model, x, y, **kwargs)
    if maps is None:
        raise ValueError(f"`method` returned None ({where}); expected one map per input.")
    maps = checks.returned_array(maps, "method", finite=False)
    if maps.ndim < 2 or len(maps) != len(x):
        raise ValueError(
            f"`method` returned maps of shape {maps.shape} for {len(x)} inputs ({where}); "
            "expected one map per input, shape (N, ...)."
        )
    if not np.all(np.isfinite(maps)):
        raise ValueError(f"`method` returned non-finite (NaN/inf) maps ({where}).")
    return maps


class Scorer:
    """Scores maps against the original maps with every metric.

    Metrics exposing `features` / `compare` stages (the built-ins) get the original maps'
    features computed once, not at every step, and share the channel reduction and [0, 1]
    scaling of each batch of maps (`vis.sanity.metrics.batch_features`).
    """

    def __init__(self, fns: dict[str, Callable], original: np.ndarray, channel_axis: int | None):
        self.fns = fns
        self.original = original
        self.channel_axis = channel_axis
        self._features = _metrics.batch_features(fns, original, channel_axis)

    def __call__(self, maps: np.ndarray, where: str) -> dict[str, np.ndarray]:
        """`{metric: (N,)}` similarities of `maps` to the original maps."""
        if maps.shape != self.original.shape:
            raise ValueError(
                f"The explainer returned maps of shape {maps.shape} ({where}) but "
                f"{self.original.shape} for the original model."
            )
        features = _metrics.batch_features(self.fns, maps, self.channel_axis)
        out = {}
        for name, fn in self.fns.items():
            if name in features:
                values = fn.compare(self._features[name], features[name])
            else:
                values = checks.call(fn, "metrics", self.original, maps,
                                     channel_axis=self.channel_axis)
            values = checks.returned_array(values, "metrics", finite=False).astype("float64")
            if values.shape != (len(maps),):
                raise ValueError(
                    f"`metrics`: metric {name!r} returned shape {values.shape}; expected "
                    f"({len(maps)},)."
                )
            out[name] = values
        return out


def explainer(method) -> Callable:
    return _explainers.get(method)
