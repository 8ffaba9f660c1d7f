"""Localization: does the explanation point at the object, where ground-truth masks exist?

- `pointing_game` (Zhang et al. 2018, https://arxiv.org/abs/1608.00507): a hit (1) when the
  map's maximum lies inside the mask, else 0; the first maximum by flat index decides ties.
- `relevance_mass` (relevance mass accuracy, Arras et al. 2022, https://arxiv.org/abs/2003.07258):
  the share of the positive relevance that falls inside the mask,
  `sum_{mask} max(phi, 0) / sum max(phi, 0)` (0 for a map without positive relevance).

Both take signed maps as they are (`absolute=True` uses `|phi|` instead, for methods whose sign
is not evidence). Masks are boolean (or 0/1) arrays shaped like the maps, or like the maps
without their channel axis (`channel_axis=`, summed over first; a mask with the axis is reduced
with "any"). `vis.evaluate` gives per-pixel maps and masks. Every mask must mark at least one
position.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pointing_game", "relevance_mass"]


def _prepare(attributions, masks, channel_axis, absolute) -> tuple[np.ndarray, np.ndarray]:
    maps = np.asarray(attributions)
    if not np.issubdtype(maps.dtype, np.number) or np.issubdtype(maps.dtype, np.complexfloating):
        raise TypeError(f"`attributions` must hold real numbers, got dtype {maps.dtype}.")
    if maps.ndim < 2:
        raise ValueError(f"`attributions` must be a batch of maps (N, ...), got shape "
                         f"{maps.shape}.")
    m = np.asarray(masks)
    if m.dtype != bool:
        if not np.issubdtype(m.dtype, np.number) or not np.all((m == 0) | (m == 1)):
            raise ValueError("`masks` must be boolean (or hold only 0 and 1).")
        m = m.astype(bool)
    if channel_axis is not None:
        if (isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer))
                or not -maps.ndim < channel_axis < maps.ndim or channel_axis % maps.ndim == 0):
            raise ValueError(f"`channel_axis`={channel_axis!r} is not a non-batch axis of maps "
                             f"of shape {maps.shape}.")
        if m.shape == maps.shape:
            m = m.any(axis=channel_axis)
        maps = maps.sum(axis=channel_axis, dtype="float64")
    if m.shape != maps.shape:
        raise ValueError(
            f"`masks` has shape {m.shape}; expected the maps' shape {maps.shape}"
            + (" (after summing the channel axis)." if channel_axis is not None else ".")
        )
    flat = maps.reshape(len(maps), -1).astype("float64")
    if not np.all(np.isfinite(flat)):
        raise ValueError("`attributions` contains NaN or inf values.")
    m = m.reshape(len(m), -1)
    empty = np.flatnonzero(~m.any(axis=1))
    if empty.size:
        raise ValueError(f"`masks` marks no position for sample(s) {empty.tolist()[:10]}: "
                         "localization needs a non-empty mask.")
    return (np.abs(flat) if absolute else flat), m


def pointing_game(attributions, masks, *, channel_axis: int | None = None,
                  absolute: bool = False) -> np.ndarray:
    """Pointing game (Zhang et al. 2018): 1 when the map's maximum lies inside the mask.

    Paper: J. Zhang, S. A. Bargal, Z. Lin, J. Brandt, X. Shen, S. Sclaroff, "Top-down Neural
    Attention by Excitation Backprop", IJCV 2018, https://arxiv.org/abs/1608.00507.

    Args:
        attributions: A batch of maps `(N, ...)`.
        masks: Boolean masks shaped like the maps (or like the maps summed over
            `channel_axis`).
        channel_axis: An axis of the maps to sum over first. Defaults to `None`.
        absolute: Point with `|phi|` instead of the signed map. Defaults to `False`.

    Returns:
        `(N,)` of 0.0 / 1.0 (higher is better; its mean is the hit rate).

    Raises:
        ValueError: For masks of the wrong shape, not boolean, or empty; NaN/inf maps.
        TypeError: For non-numeric maps.

    Example:
        >>> maps = np.array([[0.1, 0.9, 0.0]]); masks = np.array([[False, True, False]])
        >>> pointing_game(maps, masks)
        array([1.])
    """
    flat, m = _prepare(attributions, masks, channel_axis, absolute)
    return m[np.arange(len(m)), flat.argmax(axis=1)].astype("float64")


def relevance_mass(attributions, masks, *, channel_axis: int | None = None,
                   absolute: bool = False) -> np.ndarray:
    """Relevance mass accuracy (Arras et al. 2022): the share of positive relevance in the mask.

    `sum_{mask} max(phi, 0) / sum max(phi, 0)` per map (with `absolute=True`, `|phi|`); 0 for a
    map with no positive relevance.

    Paper: L. Arras, A. Osman, W. Samek, "CLEVR-XAI: A benchmark dataset for the ground truth
    evaluation of neural network explanations", Information Fusion 2022,
    https://arxiv.org/abs/2003.07258.

    Args:
        attributions: A batch of maps `(N, ...)`.
        masks: Boolean masks (see `pointing_game`).
        channel_axis: An axis of the maps to sum over first. Defaults to `None`.
        absolute: Use `|phi|` instead of the positive part. Defaults to `False`.

    Returns:
        `(N,)` in [0, 1] (higher is better).

    Raises:
        ValueError: As `pointing_game`.
        TypeError: As `pointing_game`.

    Example:
        >>> relevance_mass(np.array([[1.0, 3.0, -2.0]]), np.array([[False, True, True]]))
        array([0.75])
    """
    flat, m = _prepare(attributions, masks, channel_axis, absolute)
    positive = np.maximum(flat, 0.0)
    total = positive.sum(axis=1)
    inside = (positive * m).sum(axis=1)
    out = np.zeros(len(flat))
    ok = total > 0
    out[ok] = inside[ok] / total[ok]
    return out
