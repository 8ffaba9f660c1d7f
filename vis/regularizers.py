"""Input regularizers of activation maximization (keras-vis' `vis.regularizers`), in NumPy.

Losses on the optimized input itself, with keras-vis' formulas (each divided by the number of
values of one sample, keras-vis' `normalize(img, value)`, so weights carry over across sizes):

- `TotalVariation(beta=2)`: `sum((sum_d (x[.., i+1_d, ..] - x[.., i, ..])^2)^(beta / 2))`,
  summed over the positions that have a neighbour along every spatial axis and over channels.
- `LPNorm(p=6)`: `(sum |x|^p)^(1 / p)` (`p = inf`: `max(x)`).

`value_and_grad(x, spatial_axes)` returns one value per sample and the exact gradient.
"""

from __future__ import annotations

import numpy as np

from vis.utils import checks

__all__ = ["InputRegularizer", "TotalVariation", "LPNorm"]


class InputRegularizer:
    """A loss on the optimized input: `value_and_grad(x, spatial_axes) -> (values, grads)`.

    Attributes:
        name: The name shown by `vis.callbacks.Print`.
    """

    name = "regularizer"

    def value_and_grad(self, x: np.ndarray, spatial_axes: tuple[int, ...]
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Per-sample values `(N,)` and their gradient w.r.t. `x` (subclasses implement it)."""
        raise NotImplementedError


def _per_sample_size(x: np.ndarray) -> int:
    return int(np.prod(x.shape[1:]))


class TotalVariation(InputRegularizer):
    """keras-vis' total variation: favours blobby, coherent images.

    Args:
        img_input: Ignored; keras-vis took the model's input tensor here. Defaults to `None`.
        beta: The exponent; smaller values give sharper, spikier images. Defaults to `2.0`.

    Raises:
        ValueError: If `beta` is not a positive finite number.

    Example:
        >>> x = np.zeros((1, 3, 3, 1)); x[0, 1, 1, 0] = 1.0
        >>> float(TotalVariation().value_and_grad(x, (1, 2))[0][0] * 9)  # squared steps 1+1+1+1
        4.0
    """

    def __init__(self, img_input=None, beta: float = 2.0):
        del img_input
        if not checks.is_real(beta) or not np.isfinite(float(beta)) or beta <= 0:
            raise ValueError(f"`beta` must be a positive number, got {beta!r}.")
        beta = float(beta)
        self.beta = beta
        self.name = f"TV({beta:g}) Loss"

    def value_and_grad(self, x, spatial_axes):
        x = np.asarray(x, dtype="float64")
        crop = [slice(None)] * x.ndim
        for a in spatial_axes:
            crop[a] = slice(None, -1)
        diffs = []
        for a in spatial_axes:
            start = list(crop)
            start[a] = slice(1, None)
            diffs.append((tuple(start), x[tuple(start)] - x[tuple(crop)]))
        s = sum(d * d for _, d in diffs)
        half = self.beta / 2.0
        axes = tuple(range(1, x.ndim))
        size = _per_sample_size(x)
        values = np.sum(s**half, axis=axes) / size
        with np.errstate(divide="ignore", invalid="ignore"):
            ds = np.where(s > 0, half * s ** (half - 1.0), 0.0 if half >= 1 else 0.0)
        grad = np.zeros_like(x)
        for start, d in diffs:
            g = ds * 2.0 * d
            grad[start] += g
            grad[tuple(crop)] -= g
        return values, grad / size


class LPNorm(InputRegularizer):
    """keras-vis' Lp norm: keeps the input's values bounded.

    Args:
        img_input: Ignored; keras-vis took the model's input tensor here. Defaults to `None`.
        p: The order, `>= 1`, or `inf` (then `max(x)`, as keras-vis computed it). Defaults to
            `6.0`.

    Raises:
        ValueError: If `p < 1`.

    Example:
        >>> float(LPNorm(p=2).value_and_grad(np.full((1, 2, 2, 1), 3.0), (1, 2))[0][0])
        1.5
    """

    def __init__(self, img_input=None, p: float = 6.0):
        del img_input
        if not checks.is_real(p) or not float(p) >= 1:
            raise ValueError(f"`p` must be in [1, inf], got {p!r}.")
        p = float(p)
        self.p = p
        self.name = f"L-{p:g} Norm Loss"

    def value_and_grad(self, x, spatial_axes):
        del spatial_axes
        x = np.asarray(x, dtype="float64")
        n = len(x)
        flat = x.reshape(n, -1)
        size = flat.shape[1]
        if np.isinf(self.p):
            values = flat.max(axis=1)
            grad = np.zeros_like(flat)
            grad[np.arange(n), flat.argmax(axis=1)] = 1.0
            return values / size, grad.reshape(x.shape) / size
        s = np.sum(np.abs(flat) ** self.p, axis=1)
        values = s ** (1.0 / self.p)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(s > 0, s ** (1.0 / self.p - 1.0), 0.0)
        grad = scale[:, None] * np.abs(flat) ** (self.p - 1.0) * np.sign(flat)
        return values / size, grad.reshape(x.shape) / size
