"""Complexity: how concentrated is the explanation? (maps only, no model)

- `sparseness` (Chalasani et al. 2020, https://arxiv.org/abs/1810.06583): the Gini index of
  `|phi|`, `G = sum_i (2i - n - 1) a_i / (n sum_i a_i)` with `a` sorted ascending, `i = 1..n`.
  0 for a constant map, `(n - 1) / n` for a one-hot map; higher is sparser (better).
- `complexity` (Bhatt et al. 2020, https://arxiv.org/abs/2005.00631): the entropy
  `-sum_i p_i log p_i` (natural log) of `p = |phi| / sum |phi|`. 0 for a one-hot map,
  `log n` for a constant map; lower is simpler (better).

An all-zero map singles out no feature: it is treated as a constant map (sparseness 0,
complexity `log n`), never NaN. The maps are flattened whole; give `channel_axis=` to sum a
channel axis first (`vis.evaluate` gives these metrics per-pixel maps, summed over the input's
channels, so that CAM maps and input-shaped maps are compared on the same pixels).
"""

from __future__ import annotations

import numpy as np

__all__ = ["sparseness", "complexity", "gini"]


def _flat_abs(attributions, channel_axis) -> np.ndarray:
    maps = np.asarray(attributions)
    if not np.issubdtype(maps.dtype, np.number) or np.issubdtype(maps.dtype, np.complexfloating):
        raise TypeError(f"`attributions` must hold real numbers, got dtype {maps.dtype}.")
    if maps.ndim < 2:
        raise ValueError(f"`attributions` must be a batch of maps (N, ...), got shape "
                         f"{maps.shape}.")
    if channel_axis is not None:
        if (isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer))
                or not -maps.ndim < channel_axis < maps.ndim or channel_axis % maps.ndim == 0):
            raise ValueError(f"`channel_axis`={channel_axis!r} is not a non-batch axis of maps "
                             f"of shape {maps.shape}.")
        maps = maps.sum(axis=channel_axis, dtype="float64")
    flat = np.abs(maps.reshape(len(maps), -1).astype("float64"))
    if not np.all(np.isfinite(flat)):
        raise ValueError("`attributions` contains NaN or inf values.")
    return flat


def gini(values: np.ndarray) -> np.ndarray:
    """The Gini index of each row of non-negative `values` `(N, n)`; 0 for all-zero rows.

    Example:
        >>> gini(np.array([[0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]))
        array([0.75, 0.  ])
    """
    a = np.sort(np.asarray(values, dtype="float64"), axis=1)
    n = a.shape[1]
    weights = 2.0 * np.arange(1, n + 1) - n - 1
    total = a.sum(axis=1)
    out = np.zeros(len(a))
    ok = total > 0
    out[ok] = (a[ok] * weights).sum(axis=1) / (n * total[ok])
    return out


def sparseness(attributions, *, channel_axis: int | None = None) -> np.ndarray:
    """Sparseness (Chalasani et al. 2020): the Gini index of `|phi|`, per map.

    Paper: P. Chalasani, J. Chen, A. R. Chowdhury, S. Jha, X. Wu, "Concise Explanations of
    Neural Networks using Adversarial Training", ICML 2020, https://arxiv.org/abs/1810.06583.

    Args:
        attributions: A batch of maps `(N, ...)`.
        channel_axis: An axis to sum over first. Defaults to `None` (flatten the whole map).

    Returns:
        `(N,)` in [0, 1): higher is sparser (better); 0 for constant or all-zero maps,
        `(n - 1) / n` for a one-hot map of `n` values.

    Raises:
        ValueError: For a single map without batch axis, a bad `channel_axis`, NaN/inf.
        TypeError: For non-numeric maps.

    Example:
        >>> sparseness(np.eye(4)[None])  # one-hot rows: 4 ones among 16 values
        array([0.75])
    """
    return gini(_flat_abs(attributions, channel_axis))


def complexity(attributions, *, channel_axis: int | None = None) -> np.ndarray:
    """Complexity (Bhatt et al. 2020): the entropy of `|phi| / sum |phi|`, per map.

    Paper: U. Bhatt, A. Weller, J. M. F. Moura, "Evaluating and Aggregating Feature-based Model
    Explanations", IJCAI 2020, https://arxiv.org/abs/2005.00631.

    Args:
        attributions: A batch of maps `(N, ...)`.
        channel_axis: An axis to sum over first. Defaults to `None` (flatten the whole map).

    Returns:
        `(N,)` in [0, log n] (natural log): lower is simpler (better); 0 for a one-hot map,
        `log n` for constant or all-zero maps.

    Raises:
        ValueError: As `sparseness`.
        TypeError: As `sparseness`.

    Example:
        >>> complexity(np.ones((1, 4)))  # log 4
        array([1.38629436])
    """
    a = _flat_abs(attributions, channel_axis)
    n = a.shape[1]
    total = a.sum(axis=1, keepdims=True)
    out = np.full(len(a), np.log(n))
    ok = total[:, 0] > 0
    p = a[ok] / total[ok]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[ok] = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)
    return out
