"""Gradient modifiers: post-process a raw gradient map (keras-vis `grad_modifier`).

Each modifier is a small function `array -> array` applied to the raw per-sample gradient before
channel reduction and normalization.

- `absolute` (default of `visualize_saliency`): `|g|`, which pixels matter regardless of sign.
- `square`: `g ** 2`.
- `negate`: `-g`; for a regression output, what *decreases* it.
- `relu`: `max(g, 0)`, the positive evidence only.
- `invert`: `1 / g` (zeros map to a large finite value).
- `small_values`: `|1 / g|`; for a regression output, what keeps it *steady*.
- `linear` / `None`: `g` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["get", "register", "names", "absolute", "square", "negate", "relu", "invert",
           "small_values", "linear"]

_EPS = 1e-7


def linear(grads: np.ndarray) -> np.ndarray:
    """Returns the gradient unchanged."""
    return grads


def absolute(grads: np.ndarray) -> np.ndarray:
    """Absolute value: `|g|`."""
    return np.abs(grads)


def square(grads: np.ndarray) -> np.ndarray:
    """Square: `g ** 2`."""
    return np.square(grads)


def negate(grads: np.ndarray) -> np.ndarray:
    """Negation: `-g` (what decreases the score)."""
    return -grads


def relu(grads: np.ndarray) -> np.ndarray:
    """Positive part: `max(g, 0)`."""
    return np.maximum(grads, 0)


def invert(grads: np.ndarray) -> np.ndarray:
    """Inverse: `1 / (g + eps * sign(g))` with `sign(0) = +1`, so that it is always finite."""
    grads = np.asarray(grads)
    sign = np.where(grads >= 0, 1.0, -1.0).astype(grads.dtype)
    return 1.0 / (grads + _EPS * sign)


def small_values(grads: np.ndarray) -> np.ndarray:
    """`|1 / g|`: large where the gradient is small (what keeps the score steady)."""
    return np.abs(invert(grads))


_REGISTRY: dict[str, Callable] = {
    "absolute": absolute,
    "square": square,
    "negate": negate,
    "relu": relu,
    "invert": invert,
    "small_values": small_values,
    "linear": linear,
}


def register(name: str, fn: Callable) -> None:
    """Registers a gradient modifier `fn(array) -> array` under `name`.

    Example:
        >>> register("cube", lambda g: g ** 3)
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty string, got {name!r}.")
    if not callable(fn):
        raise TypeError(f"`fn` must be callable, got {type(fn).__name__}.")
    _REGISTRY[name] = fn


def names() -> list[str]:
    """The registered modifier names."""
    return sorted(_REGISTRY)


def get(identifier) -> Callable:
    """Returns the gradient modifier for a name or a callable.

    Args:
        identifier: `None` or `'linear'` (no change), a registered name, or a callable
            `array -> array`.

    Returns:
        The modifier function.

    Raises:
        ValueError: If the name is unknown (lists the valid names).
        TypeError: If `identifier` is neither a string, a callable nor `None`.

    Example:
        >>> get("negate")(np.array([1.0, -2.0]))
        array([-1.,  2.])
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier in _REGISTRY:
            return _REGISTRY[identifier]
        raise ValueError(
            f"Could not interpret grad_modifier {identifier!r}. Valid names: {names()} or None."
        )
    if callable(identifier):
        return identifier
    raise TypeError(
        f"`grad_modifier` must be None, a name or a callable, got {type(identifier).__name__}."
    )
