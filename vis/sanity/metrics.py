"""Similarity metrics between two batches of attribution maps (Adebayo et al. 2018).

Paper: "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292. Each metric is a small
function `metric(a, b, channel_axis=None) -> (N,)` comparing map `a[i]` with map `b[i]`:

- `spearman_abs`: Spearman rank correlation of the absolute maps (`|a|` summed over channels).
- `spearman`: Spearman rank correlation of the signed maps (summed over channels).
- `ssim`: structural similarity (`skimage.metrics.structural_similarity`, `data_range=1`) of the
  maps summed over channels and min-max scaled to [0, 1] one by one (maps with 2 or more
  spatial dimensions).
- `hog`: Spearman rank correlation of the histograms of oriented gradients
  (`skimage.feature.hog`) of those [0, 1]-scaled maps (2-D maps only).

Constant maps (an all-zero Grad-CAM, a dead network) give finite, documented values, never NaN:
a Spearman correlation is `1.0` when both maps are constant (every pixel is tied in both: the
rankings are identical) and `0.0` when only one of them is (no rank association). Min-max scaling
turns a constant map into zeros, so SSIM of two constant maps is `1.0` and the HOG of a constant
map is all zeros (then the Spearman rule above applies).

Spearman's rho is computed as scipy defines it: the Pearson correlation of the average ranks
(`scipy.stats.rankdata`), vectorized over the batch (the ranks of each map are centred and scaled
to unit norm once, so a correlation is one dot product).

The built-in metrics are `compare(features(a), features(b))` and expose those two stages as
attributes (`spearman.features`, `spearman.compare`), so that the randomization tests compute the
original maps' ranks / HOG features once rather than at every step; `batch_features` computes the
features of several metrics sharing the channel reduction and the [0, 1] scaling. SSIM is
computed with one `structural_similarity(..., full=True)` call on a column of stacked maps (the
mean of each map's own valid window positions is exactly its SSIM: windows that straddle two
maps are cropped away like the image borders), in chunks of about 32k pixels. A custom metric is
any callable `(a, b, channel_axis=None) -> (N,)`.
"""

from __future__ import annotations

import numpy as np

from vis.registry import Registry
from vis.sanity._image_metrics import _hog_cells, _ssim_window, hog, ssim
from vis.sanity._stages import (
    Metric,
    batch_features,
    check_pair,
    rank_correlation,
    reduce_channels,
    spearman_rows,
    standard_ranks,
    two_stage,
)

__all__ = [
    "spearman_abs",
    "spearman",
    "ssim",
    "hog",
    "spearman_rows",
    "reduce_channels",
    "batch_features",
    "check_map_shape",
    "get",
    "register",
    "names",
]


def _flat_ranks(reduced: np.ndarray) -> np.ndarray:
    return standard_ranks(reduced.reshape(len(reduced), -1))


@two_stage("absolute", _flat_ranks, rank_correlation)
def spearman_abs(a: np.ndarray, b: np.ndarray, channel_axis: int | None = None) -> np.ndarray:
    """Spearman rank correlation of the absolute maps (summed over channels), per sample.

    Args:
        a: A batch of maps `(N, ...)`.
        b: A batch of maps of the same shape.
        channel_axis: The maps' channel axis, or `None` if they have none. Defaults to `None`.

    Returns:
        `(N,)` correlations (see the module docstring for constant maps).

    Raises:
        ValueError: If `a` and `b` differ in shape or are not batches `(N, ...)`.

    Example:
        >>> spearman_abs(maps_trained, maps_random, channel_axis=-1).mean()
    """
    a, b = check_pair(a, b)
    return rank_correlation(spearman_abs.features(a, channel_axis),
                             spearman_abs.features(b, channel_axis))


@two_stage("signed", _flat_ranks, rank_correlation)
def spearman(a: np.ndarray, b: np.ndarray, channel_axis: int | None = None) -> np.ndarray:
    """Spearman rank correlation of the signed maps (summed over channels), per sample.

    Args:
        a: A batch of maps `(N, ...)`.
        b: A batch of maps of the same shape.
        channel_axis: The maps' channel axis, or `None` if they have none. Defaults to `None`.

    Returns:
        `(N,)` correlations (see the module docstring for constant maps).

    Raises:
        ValueError: If `a` and `b` differ in shape or are not batches `(N, ...)`.

    Example:
        >>> spearman(maps_trained, maps_random, channel_axis=-1).mean()
    """
    a, b = check_pair(a, b)
    return rank_correlation(spearman.features(a, channel_axis), spearman.features(b, channel_axis))


def check_map_shape(metric, shape: tuple) -> None:
    """Raises if a built-in metric cannot compare maps of `shape` (after channel reduction).

    `hog` needs 2-D maps with 3 cells a side; `ssim` needs at least 2 spatial dimensions of at
    least 3 pixels. The Spearman metrics and custom callables accept any shape.

    Args:
        metric: A metric name or function.
        shape: The shape of one map without its channel axis, e.g. `(28, 28)`.

    Returns:
        `None` when the metric can compare such maps.

    Raises:
        ValueError: If the metric does not apply to such maps (the message says why).

    Example:
        >>> check_map_shape("hog", (20,))
        Traceback (most recent call last):
        ValueError: The `hog` metric needs 2-D maps, ...
    """
    fn = get(metric)
    if fn is hog:
        _hog_cells(tuple(shape))
    elif fn is ssim:
        _ssim_window(tuple(shape), None)


def _coerce(identifier) -> Metric:
    if callable(identifier):
        return identifier
    raise TypeError(
        f"A metric must be a name or a callable, got {type(identifier).__name__}: {identifier!r}."
    )


REGISTRY: Registry[Metric] = Registry("metric", coerce=_coerce,
                                      accepts="a callable (a, b, channel_axis=None) -> (N,)")
for _name, _fn in (("spearman_abs", spearman_abs), ("spearman", spearman), ("ssim", ssim),
                   ("hog", hog)):
    REGISTRY.register(_name, _fn)


def names() -> list[str]:
    """Returns the registered metric names, sorted.

    Returns:
        A list of names accepted by `get` and by the `metrics=` argument of the tests.

    Example:
        >>> names()
        ['hog', 'spearman', 'spearman_abs', 'ssim']
    """
    return REGISTRY.names()


def register(name: str, fn: Metric) -> None:
    """Registers a metric `fn(a, b, channel_axis=None) -> (N,)` under `name`.

    Args:
        name: The name to use in `metrics=`.
        fn: A function comparing two batches of maps sample by sample.

    Returns:
        `None`; from then on `get(name)` and `metrics=[name]` give `fn`.

    Raises:
        ValueError: If `name` is not a non-empty string.
        TypeError: If `fn` is not callable.

    Example:
        >>> register("pearson", lambda a, b, channel_axis=None: np.array(
        ...     [np.corrcoef(u.ravel(), v.ravel())[0, 1] for u, v in zip(a, b)]))
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable, got {type(fn).__name__}.")
    REGISTRY.register(name, fn)


def get(identifier) -> Metric:
    """Returns the metric for a registered name, or the callable itself.

    Args:
        identifier: `'spearman_abs'`, `'spearman'`, `'ssim'`, `'hog'`, another registered name,
            or a callable `(a, b, channel_axis=None) -> (N,)`.

    Returns:
        The metric function.

    Raises:
        ValueError: If the name is unknown (the message lists the valid names).
        TypeError: If `identifier` is neither a string nor a callable.

    Example:
        >>> get("ssim") is ssim
        True
    """
    return REGISTRY.get(identifier)
