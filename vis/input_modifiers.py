"""Input modifiers of `visualize_activation` (keras-vis' `vis.input_modifiers`).

At every step of the optimization the input goes through each modifier's `pre` (in list
order) before the gradient is taken, and through each `post` (in reverse order) after the
update. Random changes (shifts, small rotations, zooms) make the synthesized images crisper and
less adversarial.

- `Jitter(jitter)`: a random circular shift along each spatial axis (keras-vis).
- `Rotate2D(degree)`: a random rotation in the image plane (tf-keras-vis).
- `Scale(low, high)`: a random zoom, cropped or padded back to the input's size (tf-keras-vis).

The batches are channels-last `(N, ..., C)` (a `channels_first` model's are moved for the
modifiers and back). Each modifier draws from its own generator, seeded with `seed`.
"""

from __future__ import annotations

import numpy as np

from vis.utils import checks

__all__ = ["InputModifier", "Jitter", "Rotate2D", "Scale"]


class InputModifier:
    """Base class: `pre(inp)` before each gradient step, `post(inp)` after the update.

    Both take and return a channels-last NumPy batch `(N, ..., C)`; the base class returns it
    unchanged.

    Example:
        >>> class Clip(InputModifier):
        ...     def post(self, inp):
        ...         return np.clip(inp, 0, 255)
    """

    def pre(self, inp: np.ndarray) -> np.ndarray:
        """Changes the input before the gradient step (base class: unchanged)."""
        return inp

    def post(self, inp: np.ndarray) -> np.ndarray:
        """Changes the input after the update (base class: unchanged)."""
        return inp


def _spatial_axes(inp: np.ndarray) -> list[int]:
    return list(range(1, inp.ndim - 1)) if inp.ndim > 2 else [1]


class Jitter(InputModifier):
    """A random circular shift of each spatial axis in `pre` (keras-vis' `Jitter`).

    Args:
        jitter: The largest shift: one value for every spatial axis, or one per axis. A value
            below 1 is a fraction of the axis' length, 1 or more a number of pixels. Defaults
            to `0.05`.
        seed: Seed of the shifts. Defaults to `None`.

    Raises:
        ValueError: A negative or non-finite jitter.

    Example:
        >>> img = visualize_activation(model, -1, 3, input_modifiers=[Jitter(16)])
    """

    def __init__(self, jitter=0.05, seed: int | None = None):
        checks.no_booleans(jitter, "jitter")
        try:
            values = np.atleast_1d(np.asarray(jitter, dtype="float64"))
        except (TypeError, ValueError):
            raise ValueError(f"`jitter` must be >= 0 (one value or one per axis), got "
                             f"{jitter!r}.") from None
        if values.ndim != 1 or not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(f"`jitter` must be >= 0 (one value or one per axis), got {jitter!r}.")
        self.jitter = values
        self.rng = np.random.default_rng(checks.seed(seed))

    def _limits(self, inp: np.ndarray) -> list[int]:
        axes = _spatial_axes(inp)
        values = np.repeat(self.jitter, len(axes)) if len(self.jitter) == 1 else self.jitter
        if len(values) != len(axes):
            raise ValueError(
                f"`jitter` has {len(values)} values but the input has {len(axes)} spatial axes."
            )
        return [int(v * inp.shape[a]) if v < 1 else int(v) for v, a in zip(values, axes)]

    def pre(self, inp: np.ndarray) -> np.ndarray:
        """Shifts the batch by a random offset in `[-jitter, jitter]` per spatial axis."""
        shifts = [int(self.rng.integers(-m, m + 1)) for m in self._limits(inp)]
        return np.roll(inp, shifts, axis=_spatial_axes(inp))


class Rotate2D(InputModifier):
    """A random rotation in the plane of the first two spatial axes, in `pre`.

    Args:
        degree: The largest angle, in degrees (drawn uniformly in `[-degree, degree]`).
            Defaults to `3.0`.
        seed: Seed of the angles. Defaults to `None`.

    Raises:
        ValueError: A negative or non-finite angle.

    Example:
        >>> img = visualize_activation(model, -1, 3, input_modifiers=[Rotate2D(5.0)])
    """

    def __init__(self, degree: float = 3.0, seed: int | None = None):
        if not checks.is_real(degree) or not np.isfinite(float(degree)) or degree < 0:
            raise ValueError(f"`degree` must be a finite number >= 0, got {degree!r}.")
        self.degree = float(degree)
        self.rng = np.random.default_rng(checks.seed(seed))

    def pre(self, inp: np.ndarray) -> np.ndarray:
        """Rotates every sample by one random angle (bilinear, reflected borders)."""
        from scipy.ndimage import rotate

        if inp.ndim < 4:
            raise ValueError(
                f"Rotate2D needs images (N, H, W, C); got a batch of shape {inp.shape}."
            )
        angle = float(self.rng.uniform(-self.degree, self.degree))
        out = rotate(inp, angle, axes=(1, 2), reshape=False, order=1, mode="reflect",
                     prefilter=False)
        return out.astype(inp.dtype, copy=False)


class Scale(InputModifier):
    """A random zoom of the spatial axes, cropped or padded back to the input's size, in `pre`.

    Args:
        low: The smallest zoom factor. Defaults to `0.9`.
        high: The largest zoom factor. Defaults to `1.1`.
        seed: Seed of the factors. Defaults to `None`.

    Raises:
        ValueError: Unless `0 < low <= high`.

    Example:
        >>> img = visualize_activation(model, -1, 3, input_modifiers=[Scale(0.9, 1.1)])
    """

    def __init__(self, low: float = 0.9, high: float = 1.1, seed: int | None = None):
        low, high = checks.positive_float(low, "low"), checks.positive_float(high, "high")
        if not low <= high:
            raise ValueError(f"`low` and `high` must satisfy 0 < low <= high, got {low}, {high}.")
        self.low, self.high = low, high
        self.rng = np.random.default_rng(checks.seed(seed))

    def pre(self, inp: np.ndarray) -> np.ndarray:
        """Zooms every sample by one random factor about its centre (bilinear)."""
        from scipy.ndimage import zoom

        axes = _spatial_axes(inp)
        factor = float(self.rng.uniform(self.low, self.high))
        factors = [factor if a in axes else 1.0 for a in range(inp.ndim)]
        zoomed = zoom(inp, factors, order=1, mode="nearest")
        out = inp.copy()
        src, dst = [slice(None)] * inp.ndim, [slice(None)] * inp.ndim
        for a in axes:
            n, m = inp.shape[a], zoomed.shape[a]
            if m >= n:  # crop the centre
                start = (m - n) // 2
                src[a] = slice(start, start + n)
            else:  # paste into the centre of the original
                start = (n - m) // 2
                dst[a] = slice(start, start + m)
        out[tuple(dst)] = zoomed[tuple(src)]
        return out.astype(inp.dtype, copy=False)
