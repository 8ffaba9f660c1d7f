"""The stages shared by the similarity metrics: channel reduction, ranks, features.

A built-in metric is `compare(features(a), features(b))`; `features` starts from one of three
channel-reduced views of the maps (`'absolute'`, `'signed'`, `'scaled'`), so that several
metrics scoring the same maps reduce and scale them once (`batch_features`), and a caller
comparing one batch with many computes the first batch's features once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from scipy import stats

from vis.utils.image import normalize as _normalize

Metric = Callable[..., np.ndarray]


def reduce_channels(maps: np.ndarray, channel_axis: int | None = None,
                    absolute: bool = False) -> np.ndarray:
    """Sums a batch of maps over its channel axis (of the absolute values if `absolute`).

    Args:
        maps: A batch of maps `(N, ...)`.
        channel_axis: The channel axis of `maps` (`-1` or `1` for images), or `None` if the
            maps have no channel axis. Defaults to `None`.
        absolute: Take absolute values first. Defaults to `False`.

    Returns:
        A float64 array without the channel axis.

    Example:
        >>> reduce_channels(np.ones((2, 8, 8, 3)), channel_axis=-1).shape
        (2, 8, 8)
    """
    a = np.asarray(maps, dtype="float64")
    if absolute:
        a = np.abs(a)
    if channel_axis is not None:
        a = a.sum(axis=channel_axis)
    return a


def standard_ranks(flat: np.ndarray) -> np.ndarray:
    """Average ranks of each row (`scipy.stats.rankdata`), centred and scaled to unit norm; a
    row of ties (a constant map) becomes all zeros."""
    flat = np.asarray(flat, dtype="float64")
    if flat.shape[1] == 0:
        return flat
    ranks = stats.rankdata(flat, axis=1)
    ranks -= ranks.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.einsum("ij,ij->i", ranks, ranks))
    # Ranks are multiples of 1/2: a centred row is exactly zero iff every value is tied.
    return np.divide(ranks, norms[:, None], out=np.zeros_like(ranks), where=norms[:, None] > 0)


def rank_correlation(za: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """Pearson correlation of standardized rank rows, with the constant-row rule of the module
    docstring."""
    const_a, const_b = ~za.any(axis=1), ~zb.any(axis=1)
    rho = np.clip(np.einsum("ij,ij->i", za, zb), -1.0, 1.0)
    return np.where(const_a & const_b, 1.0, np.where(const_a | const_b, 0.0, rho))


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each row `a[i]` with `b[i]`, finite for constant rows.

    Args:
        a: An array `(N, P)`.
        b: An array `(N, P)`.

    Returns:
        `(N,)` correlations in [-1, 1]: `1.0` where both rows are constant, `0.0` where exactly
        one of them is.

    Raises:
        ValueError: If the arrays are not 2-D of equal shape.

    Example:
        >>> spearman_rows(np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 5.0, 9.0]]))
        array([1.])
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"Expected two (N, P) arrays of equal shape, got {a.shape} and {b.shape}.")
    return rank_correlation(standard_ranks(a), standard_ranks(b))


def reduced_view(maps: np.ndarray, channel_axis: int | None, kind: str, memo: dict) -> np.ndarray:
    """The channel-reduced maps a metric starts from: `'absolute'` (sum of |map|), `'signed'`
    (sum of map) or `'scaled'` (signed, each map min-max scaled to [0, 1]); computed once per
    `memo`."""
    if kind not in memo:
        if kind == "absolute":
            memo[kind] = reduce_channels(maps, channel_axis, absolute=True)
        elif kind == "signed":
            memo[kind] = reduce_channels(maps, channel_axis)
        else:
            memo[kind] = _normalize(reduced_view(maps, channel_axis, "signed", memo), batch=True)
    return memo[kind]


def two_stage(source: str, from_source: Callable, compare: Callable):
    """Marks a metric as `compare(features(a), features(b))`, where `features` reduces the maps
    to `source` and then applies `from_source`, so that a caller comparing one batch with many
    (the original maps with every step's) can compute its features once."""

    def features(maps: np.ndarray, channel_axis: int | None = None) -> np.ndarray:
        return from_source(reduced_view(maps, channel_axis, source, {}))

    def decorate(fn):
        fn.source, fn.from_source = source, from_source
        fn.features, fn.compare = features, compare
        return fn

    return decorate


def batch_features(fns: Mapping[str, Metric], maps: np.ndarray,
                   channel_axis: int | None = None) -> dict[str, np.ndarray]:
    """The features of `maps` for every two-stage metric in `fns`, sharing their common steps.

    The channel reduction and the [0, 1] scaling are computed once for all the metrics (SSIM
    and HOG both start from the scaled maps). Metrics without `features` / `compare` stages
    (custom callables) are left out.

    Args:
        fns: `{name: metric}`.
        maps: A batch of maps `(N, ...)`.
        channel_axis: The maps' channel axis, or `None`. Defaults to `None`.

    Returns:
        `{name: features}` for the two-stage metrics; `fn.compare(features_a, features_b)` then
        gives the `(N,)` similarities.

    Example:
        >>> fa = batch_features({"ssim": ssim, "hog": hog}, maps_a)
        >>> fb = batch_features({"ssim": ssim, "hog": hog}, maps_b)
        >>> hog.compare(fa["hog"], fb["hog"])
    """
    memo: dict[str, np.ndarray] = {}
    out = {}
    for name, fn in fns.items():
        source, from_source = getattr(fn, "source", None), getattr(fn, "from_source", None)
        if source is not None and from_source is not None and hasattr(fn, "compare"):
            out[name] = from_source(reduced_view(maps, channel_axis, source, memo))
    return out


def check_pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    """The two batches of maps as arrays; raises ValueError unless they are `(N, ...)` batches
    of equal shape."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"The two batches of maps differ in shape: {a.shape} vs {b.shape}.")
    if a.ndim < 2:
        raise ValueError(f"Expected a batch of maps `(N, ...)`, got shape {a.shape}.")
    return a, b


