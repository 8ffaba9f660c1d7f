"""The backend seam: the few operations vis needs that `keras.ops` does not provide.

Everything else in vis (methods, modifiers, losses, metrics, PatternNet, parameter-space
saliency) is written in `keras.ops` and NumPy. Each Keras backend gets one thin adapter module
(`_tensorflow`, `_jax`, `_torch`) with the same functions:

- `compile(fn, specs)`: `tf.function` (with an input signature), `jax.jit`, or plain PyTorch
  (`torch.compile` with `jit_compile=True`).
- `stateful(fn, variables, specs)`: binds the user's current variable values as `fn`'s first
  argument (read inside the graph on TensorFlow, passed to the jitted function on JAX, detached
  values on PyTorch): new weights are seen without recompiling.
- `value_and_grad(fn, inputs, wrt_inputs, wrt_layers, create_graph=False)`: gradients of `fn`'s
  scalar w.r.t. the model inputs and the outputs of layers (taken through the copy's tap hooks);
  nestable, for second-order gradients.
- `vjp(fn, x, cotangent)`: a vector-Jacobian product, for `keras.ops.custom_gradient` rules.
- `per_sample_grads(fn, params, args)`: one gradient per sample (`tf.vectorized_map`,
  `jax.vmap`, `torch.func.vmap`).
- `extract_patches(x, sizes, strides, rates, padding)`: the input patches of a 2-D convolution.
- `float64()`: a context in which float64 computations are float64 (JAX disables 64-bit types
  unless asked).
- `to_tensor(array, dtype)`: a backend tensor.

`get()` returns the adapter of the active backend (`keras.backend.backend()`); `require` raises
the clear error of a feature that only some backends have (`tf.data` input, `tf.distribute`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import keras
import numpy as np

__all__ = ["name", "get", "to_numpy", "require", "float64", "installed", "is_tf_dataset",
           "SUPPORTED"]

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
        A module with `compile`, `stateful`, `value_and_grad`, `vjp`, `per_sample_grads`,
        `extract_patches`, `float64`, `spec` and `to_tensor`.

    Raises:
        ValueError: On a backend vis does not support (e.g. `numpy`, which has no gradients).

    Example:
        >>> get().__name__
        'vis.backend._tensorflow'
    """
    backend = name()
    # a plain lookup once loaded: `get()` is also called while a tf.function is traced, where
    # AutoGraph would try (and fail) to convert the import machinery
    module = sys.modules.get(f"vis.backend._{backend}")
    if module is not None:
        return module
    if backend not in SUPPORTED:
        raise ValueError(
            f"vis explains models on the {', '.join(SUPPORTED)} backends of Keras; the active "
            f"backend is {backend!r}. Set KERAS_BACKEND to one of them."
        )
    return importlib.import_module(f"vis.backend._{backend}")


def installed() -> tuple[str, ...]:
    """The supported backends whose package is importable here (for tests and diagnostics).

    Returns:
        A tuple, in the order of `SUPPORTED`.

    Example:
        >>> "tensorflow" in installed()
        True
    """
    return tuple(b for b in SUPPORTED if importlib.util.find_spec(b) is not None)


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


def float64():
    """A context in which float64 tensors are float64 on the active backend.

    JAX truncates float64 to float32 unless 64-bit types are enabled; inside this context they
    are (`jax.enable_x64`). TensorFlow and PyTorch always have float64: a no-op there. Compiled
    functions that compute in float64 must be traced and called inside it.

    Returns:
        A context manager.

    Example:
        >>> with float64():
        ...     keras.ops.cast(keras.ops.ones((1,)), "float64").dtype
    """
    return get().float64()


def is_tf_dataset(data) -> bool:
    """Whether `data` is a `tf.data.Dataset` (checked without importing TensorFlow).

    Args:
        data: Anything.

    Returns:
        `True` for a `tf.data.Dataset` (of any kind: batched, mapped, ...).

    Example:
        >>> is_tf_dataset(np.zeros(3))
        False
    """
    return any(cls.__name__ == "DatasetV2" and cls.__module__.startswith("tensorflow")
               for cls in type(data).__mro__)


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
            f"{feature} is only available on the {'/'.join(backends)} backend of Keras; the "
            f"active backend is {backend!r}." + (f" {alternative}" if alternative else "")
        )
