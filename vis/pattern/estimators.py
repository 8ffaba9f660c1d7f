"""Signal estimators of PatternNet: per-neuron patterns from streamed float64 statistics.

Kindermans et al., "Learning how to explain neural networks: PatternNet and PatternAttribution",
ICLR 2018, https://arxiv.org/abs/1705.05598. For a neuron with weights `w` and input samples `x`
(a Dense layer's input vectors, or every input patch of a convolution), `y = w^T x` *without
bias*, and:

- `filter` (`S_w`): `a = w / (w^T w)` — closed form, what the gradient, deconvnet and guided
  backprop implicitly assume.
- `linear` (`S_a`): `a = cov[x, y] / (w^T cov[x, y])`.
- `two_component` (`S_a+-`, alias `relu`), as the authors' reference implementation (iNNvestigate
  1.x `ReLUPositivePattern` / `ReLUNegativePattern`) computes it:
  `a+ = (E+[x y] - E+[x] E[y]) / (w^T (E+[x y] - E+[x] E[y]))`, where `E+` averages over the samples
  whose forward output (with bias, after the activation; the pre-softmax value for a softmax; see
  `_layers.mask_sources`) is `> 0` and `E[y]` over *all* samples. The negative regime `a-` uses the samples with output `<= 0`.

Every pattern satisfies `w^T a = 1`. Where the denominator is exactly zero the reference's safe
division `a / (b + (b == 0))` leaves the numerator (a dead neuron, with no sample in its regime, gets
a zero pattern): finite, never NaN.

The statistics are float64 sums over shifted samples `x - c`, `y - d`; the formulas of
`LayerStats.numerator` are exact for any shift. `fit_patterns` centres every batch with its own
means while computing the products (so low-precision products do not cancel), converts the batch
sums exactly to raw float64 sums and stores them with `c = 0`, `d = 0`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ESTIMATORS", "LayerStats", "get_estimator", "filter_pattern", "estimate"]

ESTIMATORS = ("filter", "linear", "two_component")
_ALIASES = {"relu": "two_component", "two-component": "two_component", "S_w": "filter",
            "S_a": "linear"}


def get_estimator(name) -> str:
    """The canonical estimator name for `name` (`'relu'` is an alias of `'two_component'`).

    Args:
        name: `'filter'`, `'linear'`, `'two_component'` or `'relu'`.

    Returns:
        The canonical name.

    Raises:
        ValueError: If `name` is not an estimator name.

    Example:
        >>> get_estimator("relu")
        'two_component'
    """
    if isinstance(name, str):
        name = _ALIASES.get(name, name)
        if name in ESTIMATORS:
            return name
    raise ValueError(
        f"Unknown `estimator` {name!r}: expected one of {list(ESTIMATORS) + ['relu']}."
    )


@dataclass
class LayerStats:
    """Float64 sums over one layer's samples, shifted by `c` (inputs) and `d` (outputs).

    With `xc = x - c`, `yc = y - d` and the regime mask `m` (forward output > 0):
    `n` samples, `sx = sum xc` (D,), `sy = sum yc` (U,), `sxy = sum xc yc^T` (D, U) and, for the
    positive regime, `n_pos = sum m` (U,), `bx_pos = sum xc m^T` (D, U),
    `axy_pos = sum xc (yc m)^T` (D, U), `cy_pos = sum yc m` (U,).
    """

    c: np.ndarray
    d: np.ndarray
    n: float = 0.0
    sx: np.ndarray | None = None
    sy: np.ndarray | None = None
    sxy: np.ndarray | None = None
    n_pos: np.ndarray | None = None
    bx_pos: np.ndarray | None = None
    axy_pos: np.ndarray | None = None
    cy_pos: np.ndarray | None = None

    def add(self, batch: dict) -> None:
        """Adds one batch of sums (a dict with the same field names) in float64."""
        for key, value in batch.items():
            value = np.asarray(value, dtype="float64")
            old = getattr(self, key)
            setattr(self, key, value.copy() if old is None else old + value)

    def regime(self, which: str) -> tuple:
        """`(n_r, B_r, A_r, C_r)` of the regime `'all'`, `'pos'` or `'neg'`."""
        if which == "all":
            units = self.sy.shape[0]
            return (np.full(units, self.n), np.repeat(self.sx[:, None], units, axis=1),
                    self.sxy, self.sy)
        if which == "pos":
            return self.n_pos, self.bx_pos, self.axy_pos, self.cy_pos
        return (self.n - self.n_pos, self.sx[:, None] - self.bx_pos, self.sxy - self.axy_pos,
                self.sy - self.cy_pos)

    def numerator(self, which: str) -> np.ndarray:
        """`E_r[x y] - E_r[x] E[y]` per neuron, `(D, U)`; zero where the regime has no sample."""
        n_r, b, a, c_r = self.regime(which)
        if self.n == 0:
            return np.zeros_like(b)
        safe = np.where(n_r > 0, n_r, 1.0)
        mean_yc = self.sy / self.n
        num = a / safe - (b / safe) * mean_yc + self.c[:, None] * (c_r / safe - mean_yc)
        return np.where(n_r > 0, num, 0.0)


def _normalize(kernel_2d: np.ndarray, numerator: np.ndarray) -> np.ndarray:
    den = np.sum(kernel_2d * numerator, axis=0)
    return numerator / (den + (den == 0))


def filter_pattern(kernel_2d: np.ndarray) -> np.ndarray:
    """`a = w / (w^T w)` per column of a `(D, U)` kernel (a zero filter gives a zero pattern)."""
    return _normalize(kernel_2d, np.asarray(kernel_2d, dtype="float64"))


def estimate(estimator: str, kernel_2d: np.ndarray, stats: LayerStats | None,
             negative: bool = False):
    """Patterns of one layer as `(D, U)` arrays: `(a, None)`, or `(a+, a-)` for two_component.

    Args:
        estimator: A canonical estimator name.
        kernel_2d: The layer's kernel reshaped to `(D, U)` (float64).
        stats: The layer's statistics (unused for `'filter'`).
        negative: For two_component, also return `a-` (needs `stats.sxy`). Defaults to `False`.

    Returns:
        `(pattern, negative_pattern_or_None)`.
    """
    if estimator == "filter":
        return filter_pattern(kernel_2d), None
    if estimator == "linear":
        return _normalize(kernel_2d, stats.numerator("all")), None
    pos = _normalize(kernel_2d, stats.numerator("pos"))
    return pos, (_normalize(kernel_2d, stats.numerator("neg")) if negative else None)
