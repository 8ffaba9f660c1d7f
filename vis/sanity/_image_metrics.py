"""Image similarity metrics of the sanity checks: SSIM and HOG (scikit-image).

Both compare the maps summed over channels and min-max scaled to [0, 1] one by one. SSIM is
computed with one `skimage.metrics.structural_similarity(..., full=True)` call on a column of
stacked maps, in chunks of about 32k pixels: the mean of each map's own window positions at
least `pad` pixels from its borders is exactly what scikit-image averages for one map, and the
windows that straddle two maps are cropped away like the image borders. HOG is one
`skimage.feature.hog` call per map (its block normalization dominates, stacking saves nothing).
"""

from __future__ import annotations

import numpy as np
from skimage.feature import hog as _skimage_hog
from skimage.metrics import structural_similarity

from vis.sanity._stages import check_pair, rank_correlation, reduced_view, standard_ranks, two_stage

# Pixels per structural_similarity call: small maps are stacked into one call, large maps are
# scored one by one (beyond this size, stacking no longer saves time).
_SSIM_CHUNK_PIXELS = 2**15


def _ssim_window(shape: tuple, win_size: int | None) -> int:
    if len(shape) < 2:
        raise ValueError(
            f"The `ssim` metric compares images: it needs maps with at least 2 spatial "
            f"dimensions, got maps of shape {tuple(shape)} after channel reduction (check "
            "`channel_axis`, or use the 'spearman' metrics)."
        )
    smallest = min(shape)
    if win_size is None:
        win_size = min(7, smallest if smallest % 2 else smallest - 1)
    if isinstance(win_size, bool) or not isinstance(win_size, (int, np.integer)):
        raise ValueError(f"`win_size` must be an odd int >= 3, got {win_size!r}.")
    if win_size < 3 or win_size % 2 == 0 or win_size > smallest:
        raise ValueError(
            f"SSIM needs an odd window of at least 3 that fits in the maps: got `win_size`="
            f"{win_size} for maps of spatial shape {tuple(shape)}. Use another metric for maps "
            "with a side shorter than 3."
        )
    return int(win_size)


def _ssim_compare(sa: np.ndarray, sb: np.ndarray, win_size: int | None = None) -> np.ndarray:
    """SSIM of each scaled map pair: one `structural_similarity` call per chunk of stacked maps.

    Maps are stacked along their first spatial axis; `full=True` returns the SSIM image, and
    each map's SSIM is the mean over its own window positions at least `pad` pixels from its
    borders, which is exactly what scikit-image averages for one map (`crop(S, pad).mean()`).
    """
    spatial = sa.shape[1:]
    win = _ssim_window(spatial, win_size)
    pad = (win - 1) // 2
    inner = (slice(None),) + tuple(slice(pad, side - pad) for side in spatial)
    per_call = max(1, _SSIM_CHUNK_PIXELS // int(np.prod(spatial)))
    out = np.empty(len(sa), dtype="float64")
    for start in range(0, len(sa), per_call):
        u, v = sa[start:start + per_call], sb[start:start + per_call]
        k = len(u)
        column = (k * spatial[0],) + spatial[1:]
        _, full = structural_similarity(u.reshape(column), v.reshape(column), data_range=1.0,
                                        win_size=win, full=True)
        out[start:start + k] = full.reshape(u.shape)[inner].mean(
            axis=tuple(range(1, len(spatial) + 1)), dtype="float64")
    # Two constant maps are both zeros once scaled: SSIM 1 exactly (stacking can leave ~1e-15).
    flat_a, flat_b = sa.reshape(len(sa), -1), sb.reshape(len(sb), -1)
    out[~flat_a.any(axis=1) & ~flat_b.any(axis=1)] = 1.0
    return out


def _identity(scaled: np.ndarray) -> np.ndarray:
    return scaled


@two_stage("scaled", _identity, _ssim_compare)
def ssim(a: np.ndarray, b: np.ndarray, channel_axis: int | None = None,
         win_size: int | None = None) -> np.ndarray:
    """Structural similarity of the [0, 1]-scaled maps, per sample (scikit-image).

    Each map is summed over channels and min-max scaled to [0, 1] on its own; SSIM is then
    `skimage.metrics.structural_similarity(a_i, b_i, data_range=1, win_size=win_size)`
    (computed for a stack of maps at once, with the same result; see the module docstring).

    Args:
        a: A batch of maps `(N, ...)` with at least 2 spatial dimensions.
        b: A batch of maps of the same shape.
        channel_axis: The maps' channel axis, or `None` if they have none. Defaults to `None`.
        win_size: Side of the sliding window (odd, >= 3). Defaults to `None`: 7 (scikit-image's
            default), or the largest odd number that fits in the smallest side of the map.

    Returns:
        `(N,)` SSIM values in [-1, 1]; `1.0` for two constant maps.

    Raises:
        ValueError: If the maps have fewer than 2 spatial dimensions after channel reduction,
            a side shorter than 3 pixels, or `win_size` is invalid.

    Example:
        >>> ssim(maps_trained, maps_random, channel_axis=-1).mean()
    """
    a, b = check_pair(a, b)
    return _ssim_compare(ssim.features(a, channel_axis), ssim.features(b, channel_axis), win_size)


def _hog_cells(shape: tuple, pixels_per_cell: tuple[int, int] | None = None,
               cells_per_block: tuple[int, int] = (3, 3)) -> tuple[int, int]:
    """The HOG cell size for 2-D maps of `shape` (see `hog`); raises if HOG does not apply."""
    if len(shape) != 2:
        raise ValueError(
            f"The `hog` metric needs 2-D maps, got maps of shape {tuple(shape)} after channel "
            "reduction (check `channel_axis`, or use the 'spearman' metrics)."
        )
    smallest = min(shape)
    if pixels_per_cell is None:
        side = 8 if smallest >= 8 * cells_per_block[0] else max(1, smallest // cells_per_block[0])
        pixels_per_cell = (side, side)
    cells = [s // p for s, p in zip(shape, pixels_per_cell)]
    if any(c < k for c, k in zip(cells, cells_per_block)):
        raise ValueError(
            f"Maps of shape {tuple(shape)} are too small for HOG blocks of {cells_per_block} "
            f"cells of {pixels_per_cell} pixels; pass smaller `pixels_per_cell` / "
            "`cells_per_block`."
        )
    return tuple(pixels_per_cell)


def _hog_from_scaled(scaled: np.ndarray, orientations: int = 9,
                     pixels_per_cell: tuple[int, int] | None = None,
                     cells_per_block: tuple[int, int] = (3, 3)) -> np.ndarray:
    """Standardized ranks of the HOG features of each [0, 1]-scaled 2-D map, `(N, F)`."""
    cell = _hog_cells(scaled.shape[1:], pixels_per_cell, cells_per_block)
    features = np.stack([
        _skimage_hog(m, orientations=orientations, pixels_per_cell=cell,
                     cells_per_block=cells_per_block, feature_vector=True)
        for m in scaled
    ])
    return standard_ranks(features)


@two_stage("scaled", _hog_from_scaled, rank_correlation)
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
    a, b = check_pair(a, b)
    args = (orientations, pixels_per_cell, cells_per_block)
    scaled_a = reduced_view(a, channel_axis, "scaled", {})
    scaled_b = reduced_view(b, channel_axis, "scaled", {})
    return rank_correlation(_hog_from_scaled(scaled_a, *args), _hog_from_scaled(scaled_b, *args))

