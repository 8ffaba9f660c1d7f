"""Similarity metrics between two batches of attribution maps (Adebayo et al. 2018).

Paper: "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292. Each metric is a small
function `metric(a, b, channel_axis=None) -> (N,)` comparing map `a[i]` with map `b[i]`:

- `spearman_abs`: Spearman rank correlation of the absolute maps (`|a|` summed over channels).
- `spearman`: Spearman rank correlation of the signed maps (summed over channels).
- `ssim`: structural similarity (`skimage.metrics.structural_similarity`, `data_range=1`) of the
  maps summed over channels and min-max scaled to [0, 1] one by one.
- `hog`: Spearman rank correlation of the histograms of oriented gradients
  (`skimage.feature.hog`) of those [0, 1]-scaled maps.

Constant maps (an all-zero Grad-CAM, a dead network) give finite, documented values, never NaN:
a Spearman correlation is `1.0` when both maps are constant (every pixel is tied in both: the
rankings are identical) and `0.0` when only one of them is (no rank association). Min-max scaling
turns a constant map into zeros, so SSIM of two constant maps is `1.0` and the HOG of a constant
map is all zeros (then the Spearman rule above applies).

Spearman's rho is computed as scipy defines it: the Pearson correlation
(`scipy.stats.pearsonr`) of the average ranks (`scipy.stats.rankdata`), vectorized over the batch.

The built-in metrics are `compare(features(a), features(b))` and expose those two stages as
attributes (`spearman.features`, `spearman.compare`), so that the randomization tests compute the
original maps' ranks / HOG features once rather than at every step. A custom metric is any
callable `(a, b, channel_axis=None) -> (N,)`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats
from skimage.feature import hog as _skimage_hog
from skimage.metrics import structural_similarity

from vis.utils.image import normalize as _normalize

__all__ = [
    "spearman_abs",
    "spearman",
    "ssim",
    "hog",
    "spearman_rows",
    "reduce_channels",
    "get",
    "register",
    "names",
]

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


def _ranks(flat: np.ndarray) -> np.ndarray:
    """Average ranks of each row (`scipy.stats.rankdata`)."""
    return stats.rankdata(np.asarray(flat, dtype="float64"), axis=1)


def _rank_correlation(ranks_a: np.ndarray, ranks_b: np.ndarray) -> np.ndarray:
    """Pearson correlation of rank rows, with the constant-row rule of the module docstring."""
    const_a = np.ptp(ranks_a, axis=1) == 0 if ranks_a.shape[1] else np.ones(len(ranks_a), bool)
    const_b = np.ptp(ranks_b, axis=1) == 0 if ranks_b.shape[1] else np.ones(len(ranks_b), bool)
    out = np.where(const_a & const_b, 1.0, 0.0)
    ok = ~(const_a | const_b)
    if ok.any():
        out[ok] = stats.pearsonr(ranks_a[ok], ranks_b[ok], axis=1).statistic
    return np.clip(out, -1.0, 1.0)


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
    return _rank_correlation(_ranks(a), _ranks(b))


def _two_stage(features: Callable, compare: Callable):
    """Marks a metric as `compare(features(a), features(b))`, so that a caller comparing one
    batch with many (the original maps with every step's) can compute its features once."""

    def decorate(fn):
        fn.features = features
        fn.compare = compare
        return fn

    return decorate


def _check_pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"The two batches of maps differ in shape: {a.shape} vs {b.shape}.")
    if a.ndim < 2:
        raise ValueError(f"Expected a batch of maps `(N, ...)`, got shape {a.shape}.")
    return a, b


def _abs_rank_features(maps: np.ndarray, channel_axis: int | None = None) -> np.ndarray:
    m = reduce_channels(maps, channel_axis, absolute=True)
    return _ranks(m.reshape(len(m), -1))


def _signed_rank_features(maps: np.ndarray, channel_axis: int | None = None) -> np.ndarray:
    m = reduce_channels(maps, channel_axis)
    return _ranks(m.reshape(len(m), -1))


@_two_stage(_abs_rank_features, _rank_correlation)
def spearman_abs(a: np.ndarray, b: np.ndarray, channel_axis: int | None = None) -> np.ndarray:
    """Spearman rank correlation of the absolute maps (summed over channels), per sample.

    Args:
        a: A batch of maps `(N, ...)`.
        b: A batch of maps of the same shape.
        channel_axis: The maps' channel axis, or `None` if they have none. Defaults to `None`.

    Returns:
        `(N,)` correlations (see the module docstring for constant maps).

    Example:
        >>> spearman_abs(maps_trained, maps_random, channel_axis=-1).mean()
    """
    a, b = _check_pair(a, b)
    return _rank_correlation(_abs_rank_features(a, channel_axis), _abs_rank_features(b, channel_axis))


@_two_stage(_signed_rank_features, _rank_correlation)
def spearman(a: np.ndarray, b: np.ndarray, channel_axis: int | None = None) -> np.ndarray:
    """Spearman rank correlation of the signed maps (summed over channels), per sample.

    Args:
        a: A batch of maps `(N, ...)`.
        b: A batch of maps of the same shape.
        channel_axis: The maps' channel axis, or `None` if they have none. Defaults to `None`.

    Returns:
        `(N,)` correlations (see the module docstring for constant maps).

    Example:
        >>> spearman(maps_trained, maps_random, channel_axis=-1).mean()
    """
    a, b = _check_pair(a, b)
    return _rank_correlation(_signed_rank_features(a, channel_axis),
                             _signed_rank_features(b, channel_axis))


def _scaled(maps: np.ndarray, channel_axis: int | None = None) -> np.ndarray:
    """Channel-summed maps, each min-max scaled to [0, 1] (a constant map becomes zeros)."""
    return _normalize(reduce_channels(maps, channel_axis), batch=True)


def _ssim_window(shape: tuple, win_size: int | None) -> int:
    smallest = min(shape) if shape else 0
    if win_size is None:
        win_size = min(7, smallest if smallest % 2 else smallest - 1)
    if isinstance(win_size, bool) or not isinstance(win_size, (int, np.integer)):
        raise ValueError(f"`win_size` must be an odd int >= 3, got {win_size!r}.")
    if win_size < 3 or win_size % 2 == 0 or win_size > smallest:
        raise ValueError(
            f"SSIM needs an odd window of at least 3 that fits in the maps: got `win_size`="
            f"{win_size} for maps of spatial shape {shape}. Use another metric for maps with a "
            "side shorter than 3."
        )
    return int(win_size)


def _ssim_compare(sa: np.ndarray, sb: np.ndarray, win_size: int | None = None) -> np.ndarray:
    win = _ssim_window(sa.shape[1:], win_size)
    return np.array([structural_similarity(u, v, data_range=1.0, win_size=win)
                     for u, v in zip(sa, sb)], dtype="float64")


@_two_stage(_scaled, _ssim_compare)
def ssim(a: np.ndarray, b: np.ndarray, channel_axis: int | None = None,
         win_size: int | None = None) -> np.ndarray:
    """Structural similarity of the [0, 1]-scaled maps, per sample (scikit-image).

    Each map is summed over channels and min-max scaled to [0, 1] on its own; SSIM is then
    `skimage.metrics.structural_similarity(a_i, b_i, data_range=1, win_size=win_size)`.

    Args:
        a: A batch of maps `(N, ...)`.
        b: A batch of maps of the same shape.
        channel_axis: The maps' channel axis, or `None` if they have none. Defaults to `None`.
        win_size: Side of the sliding window (odd, >= 3). Defaults to `None`: 7 (scikit-image's
            default), or the largest odd number that fits in the smallest side of the map.

    Returns:
        `(N,)` SSIM values in [-1, 1]; `1.0` for two constant maps.

    Raises:
        ValueError: If a side of the maps is shorter than 3 pixels, or `win_size` is invalid.

    Example:
        >>> ssim(maps_trained, maps_random, channel_axis=-1).mean()
    """
    a, b = _check_pair(a, b)
    return _ssim_compare(_scaled(a, channel_axis), _scaled(b, channel_axis), win_size)


def _hog_features(maps: np.ndarray, channel_axis: int | None = None, orientations: int = 9,
                  pixels_per_cell: tuple[int, int] | None = None,
                  cells_per_block: tuple[int, int] = (3, 3)) -> np.ndarray:
    """Ranks of the HOG features of each [0, 1]-scaled map, `(N, F)`."""
    scaled = _scaled(maps, channel_axis)
    if scaled.ndim != 3:
        raise ValueError(
            f"The `hog` metric needs 2-D maps, got maps of shape {scaled.shape[1:]} after channel "
            "reduction (check `channel_axis`, or use the 'spearman' metrics)."
        )
    smallest = min(scaled.shape[1:])
    if pixels_per_cell is None:
        side = 8 if smallest >= 8 * cells_per_block[0] else max(1, smallest // cells_per_block[0])
        pixels_per_cell = (side, side)
    cells = [s // p for s, p in zip(scaled.shape[1:], pixels_per_cell)]
    if any(c < k for c, k in zip(cells, cells_per_block)):
        raise ValueError(
            f"Maps of shape {scaled.shape[1:]} are too small for HOG blocks of {cells_per_block} "
            f"cells of {pixels_per_cell} pixels; pass smaller `pixels_per_cell` / "
            "`cells_per_block`."
        )
    features = np.stack([
        _skimage_hog(m, orientations=orientations, pixels_per_cell=pixels_per_cell,
                     cells_per_block=cells_per_block, feature_vector=True)
        for m in scaled
    ])
    return _ranks(features)


@_two_stage(_hog_features, _rank_correlation)
def hog(a: np.ndarray, b: np.ndarray, channel_axis: int | None = None, orientations: int = 9,
        pixels_per_cell: tuple[int, int] | None = None,
        cells_per_block: tuple[int, int] = (3, 3)) -> np.ndarray:
    """Spearman rank correlation of the HOG features of the [0, 1]-scaled maps, per sample.

    Each map is summed over channels, min-max scaled to [0, 1], described with
    `skimage.feature.hog`, and the two feature vectors are rank-correlated.

    Args:
        a: A batch of 2-D maps `(N, H, W)` (plus a channel axis if `channel_axis` is set).
        b: A batch of maps of the same shape.
        channel_axis: The maps' channel axis, or `None` if they have none. Defaults to `None`.
        orientations: Number of orientation bins. Defaults to `9`.
        pixels_per_cell: HOG cell size. Defaults to `None`: `(8, 8)` (scikit-image's default)
            for maps of at least 24 pixels a side, else `(s, s)` with `s = min(H, W) // 3`, so
            that a small map (8x8 digits) still has a 3x3 block of cells.
        cells_per_block: HOG block size in cells. Defaults to `(3, 3)`.

    Returns:
        `(N,)` correlations (see the module docstring for constant maps).

    Raises:
        ValueError: If the maps are not 2-D after channel reduction, or too small for one block.

    Example:
        >>> hog(maps_trained, maps_random, channel_axis=-1).mean()
    """
    a, b = _check_pair(a, b)
    args = (channel_axis, orientations, pixels_per_cell, cells_per_block)
    return _rank_correlation(_hog_features(a, *args), _hog_features(b, *args))


_REGISTRY: dict[str, Metric] = {
    "spearman_abs": spearman_abs,
    "spearman": spearman,
    "ssim": ssim,
    "hog": hog,
}


def names() -> list[str]:
    """The registered metric names."""
    return sorted(_REGISTRY)


def register(name: str, fn: Metric) -> None:
    """Registers a metric `fn(a, b, channel_axis=None) -> (N,)` under `name`.

    Args:
        name: The name to use in `metrics=`.
        fn: A function comparing two batches of maps sample by sample.

    Raises:
        ValueError: If `name` is not a non-empty string.
        TypeError: If `fn` is not callable.

    Example:
        >>> register("pearson", lambda a, b, channel_axis=None: np.array(
        ...     [np.corrcoef(u.ravel(), v.ravel())[0, 1] for u, v in zip(a, b)]))
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty string, got {name!r}.")
    if not callable(fn):
        raise TypeError(f"`fn` must be callable, got {type(fn).__name__}.")
    _REGISTRY[name] = fn


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
    if isinstance(identifier, str):
        if identifier in _REGISTRY:
            return _REGISTRY[identifier]
        raise ValueError(
            f"Could not interpret metric {identifier!r}. Valid names: {names()} or a callable "
            "(a, b, channel_axis=None) -> (N,)."
        )
    if callable(identifier):
        return identifier
    raise TypeError(
        f"A metric must be a name or a callable, got {type(identifier).__name__}: {identifier!r}."
    )
