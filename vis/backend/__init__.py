"""The backend seam: the few operations vis needs that `keras.ops` does not provide.

Everything else in vis (methods, modifiers, losses, metrics) is written in `keras.ops` and
NumPy. Each Keras backend gets one thin adapter module with the same three functions:

- `compile(fn, specs)`: `tf.function` (with an input signature), `jax.jit`, or plain PyTorch.
- `stateful(fn, variables)`: binds the user's current variable values as `fn`'s first argument
  (read inside the graph on TensorFlow, passed to the jitted function on JAX).
- `value_and_grad(fn, inputs, wrt_layers)`: gradients of `fn`'s scalar w.r.t. the model inputs
  and the outputs of layers (taken through the copy's tap hooks).

`get()` returns the adapter of the active backend (`keras.backend.backend()`).
"""

from __future__ import annotations

import importlib

import keras
import numpy as np

__all__ = ["name", "get", "to_numpy", "require", "SUPPORTED"]

SUPPORTED = ("tensorflow", "jax", "torch")


def name() -> str:
    """The active Keras backend: `'tensorflow'`, `'jax'` or `'torch'`.

    Returns:
        `keras.backend.backend()`.

    Example:
        >>> name()
        'tensorflow'
    """
    return keras.backend.backend()


def get():
    """The adapter module of the active backend.

    Returns:
        A module with `compile`, `stateful`, `value_and_grad` and `to_tensor`.

    Raises:
        ValueError: On a backend vis does not support (e.g. `numpy`, which has no gradients).

    Example:
        >>> get().__name__
        'vis.backend._tensorflow'
    """
    backend = name()
    if backend not in SUPPORTED:
        raise ValueError(
            f"vis explains models on the {', '.join(SUPPORTED)} backends of Keras; the active "
            f"backend is {backend!r}. Set KERAS_BACKEND to one of them."
        )
    return importlib.import_module(f"vis.backend._{backend}")


def to_numpy(value) -> np.ndarray:
    """Converts a backend tensor (or a nested list of them) to NumPy.

    Args:
        value: A tensor, an array, or a list/tuple of them.

    Returns:
        A NumPy array (a list for a list input).

    Example:
        >>> to_numpy(keras.ops.ones((2,)))
        array([1., 1.], dtype=float32)
    """
    if isinstance(value, (list, tuple)):
        return [to_numpy(v) for v in value]
    return np.asarray(keras.ops.convert_to_numpy(value))


def require(feature: str, backends: tuple[str, ...] = ("tensorflow",), alternative: str = "") -> None:
    """Raises a clear error when `feature` is used on a backend that does not have it.

    Args:
        feature: What the user asked for (e.g. "`strategy=` (tf.distribute)").
        backends: The backends that support it. Defaults to `("tensorflow",)`.
        alternative: What to use instead on the active backend. Defaults to `""`.

    Raises:
        ValueError: If the active backend is not in `backends`.

    Example:
        >>> require("tf.data input")
    """
    backend = name()
    if backend not in backends:
        raise ValueError(
            f"{feature} is only available on the {'/'.join(backends)} backend; the active Keras "
            f"backend is {backend!r}." + (f" {alternative}" if alternative else "")
        )
