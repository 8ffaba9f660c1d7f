"""Argument checks shared by every public function: one message style, naming the parameter."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["positive_int", "positive_float", "seed", "batch_size", "boolean"]


def positive_int(value, name: str) -> int:
    """`value` as a positive int; booleans, floats and strings are refused.

    Raises:
        ValueError: Naming `name` and the value received.

    Example:
        >>> positive_int(3, "samples")
        3
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
    return int(value)


def positive_float(value, name: str) -> float:
    """`value` as a finite float > 0; booleans and strings are refused.

    Raises:
        ValueError: Naming `name` and the value received.

    Example:
        >>> positive_float(0.1, "noise")
        0.1
    """
    if isinstance(value, (bool, np.bool_, str, bytes)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise ValueError(f"`{name}` must be a finite number > 0, got {value!r}.")
    out = float(value)
    if not math.isfinite(out) or out <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0, got {value!r}.")
    return out


def seed(value, name: str = "seed") -> int | None:
    """`value` as `None` or a non-negative int.

    Raises:
        ValueError: Naming `name` and the value received.

    Example:
        >>> seed(None) is None
        True
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"`{name}` must be None or a non-negative int, got {value!r}.")
    return int(value)


def batch_size(value, name: str = "batch_size") -> int | None:
    """`value` as `None` or a positive int.

    Raises:
        ValueError: Naming `name` and the value received.

    Example:
        >>> batch_size(32)
        32
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive int or None, got {value!r}.")
    return int(value)


def boolean(value, name: str) -> bool:
    """`value` as a bool; strings and numbers are refused.

    Raises:
        TypeError: Naming `name` and the value received.

    Example:
        >>> boolean(True, "keepdims")
        True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False, got {value!r}.")
    return bool(value)
