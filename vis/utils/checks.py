"""Argument checks shared by every public function: one message style, naming the parameter.

Every error names the parameter it is about in backticks (`` `seed` must be ... ``) and says
what was received; none of them passes on NumPy's or TensorFlow's own wording. The checks:

- scalars: `positive_int`, `positive_float`, `finite_float`, `seed`, `batch_size`, `boolean`,
  `optional_boolean` (booleans are never taken as numbers, nor numbers as booleans);
- indices: `no_booleans` (a `True` hidden in a list of class indices), `int_array`;
- the model: `model` (a built `keras.Model`);
- user callables: `call` (its exceptions come back naming the parameter that gave it) and
  `returned_array` (its output: numbers, the right shape, finite);
- arrays built from options: `baseline`;
- work: `work` refuses requests for more than `MAX_COPIES` perturbed / noisy / interpolated
  copies in one call, and `memory` arrays allocated up front larger than `MAX_BYTES`;
- files: `file_path`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping

import numpy as np

__all__ = ["positive_int", "positive_float", "finite_float", "seed", "batch_size", "boolean",
           "optional_boolean", "verbose", "is_real", "no_booleans", "int_array", "model", "call", "returned_array",
           "baseline", "work", "memory", "file_path", "MAX_COPIES", "MAX_BYTES"]

MAX_COPIES = 10**7
"""The most copies of the inputs (noisy samples, path points, masks, coalitions, perturbed or
occluded images, optimization steps) one call may ask for; more are refused up front."""

MAX_BYTES = 2 * 2**30
"""The most bytes an array that a method allocates up front (e.g. RISE's mask grids, the
coalitions of KernelSHAP and LIME) may take; larger requests are refused up front."""


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


def is_real(value) -> bool:
    """Whether `value` is a real number, not a bool or string.

    An int or float (NumPy's too), or a 0-d numeric array or backend tensor (`np.array(2.0)`,
    `keras.ops.convert_to_tensor(2.0)`).

    Example:
        >>> is_real(np.array(2.0)), is_real(True), is_real("1")
        (True, False, False)
    """
    if isinstance(value, (bool, np.bool_, str, bytes)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    if getattr(value, "shape", None) is None or tuple(value.shape) != ():
        return False
    try:
        return np.asarray(value).dtype.kind in "iuf"
    except Exception:  # an object that is not a number after all
        return False


def positive_float(value, name: str) -> float:
    """`value` as a finite float > 0; booleans and strings are refused.

    Raises:
        ValueError: Naming `name` and the value received.

    Example:
        >>> positive_float(0.1, "noise")
        0.1
    """
    if not is_real(value) or not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0, got {value!r}.")
    return float(value)


def finite_float(value, name: str) -> float:
    """`value` as a finite float (any sign); booleans and strings are refused.

    Raises:
        ValueError: Naming `name` and the value received.

    Example:
        >>> finite_float(-2, "weight")
        -2.0
    """
    if not is_real(value) or not math.isfinite(float(value)):
        raise ValueError(f"`{name}` must be a finite number, got {value!r}.")
    return float(value)


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


def verbose(value, name: str = "verbose", optional: bool = False) -> bool | None:
    """A progress flag: `True` / `False`, or Keras' verbosity levels `0`, `1` and `2`.

    Args:
        value: The value given.
        name: The parameter's name. Defaults to `"verbose"`.
        optional: Also take `None` (automatic), returned as is. Defaults to `False`.

    Raises:
        TypeError: Naming `name` and the value received.

    Example:
        >>> verbose(1), verbose(False)
        (True, False)
    """
    if value is None and optional:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1, 2):
        return bool(value)
    allowed = "None, True, False or 0, 1, 2" if optional else "True, False or 0, 1, 2"
    raise TypeError(f"`{name}` must be {allowed} (Keras' verbosity levels), got {value!r}.")


def optional_boolean(value, name: str) -> bool | None:
    """`value` as `None`, `True` or `False` (e.g. `verbose=None`: automatic).

    Raises:
        TypeError: Naming `name` and the value received.

    Example:
        >>> optional_boolean(None, "verbose") is None
        True
    """
    if value is None:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be None, True or False, got {value!r}.")
    return bool(value)


def no_booleans(value, name: str) -> None:
    """Refuses booleans among indices: `[1, True]` would otherwise be read as `[1, 1]`.

    Looks into lists and tuples (nested ones too) and at the dtype of arrays; a `PerSample`
    or other object is left to the caller.

    Raises:
        TypeError: Naming `name` and where the boolean is.

    Example:
        >>> no_booleans([1, 2], "targets")
        >>> no_booleans([1, True], "targets")
        Traceback (most recent call last):
        TypeError: `targets` must hold ints, got the boolean True at position 1 of [1, True].
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be an int or ints, got the boolean {value!r}.")
    if isinstance(value, np.ndarray):
        if value.dtype == bool:
            raise TypeError(f"`{name}` must hold ints, got a boolean array.")
        return
    if isinstance(value, (list, tuple)):
        stack = [(value, ())]
        while stack:
            seq, where = stack.pop()
            for i, item in enumerate(seq):
                if isinstance(item, (bool, np.bool_)):
                    pos = ", ".join(str(p) for p in (*where, i))
                    raise TypeError(f"`{name}` must hold ints, got the boolean {item!r} at "
                                    f"position {pos} of {value!r}"[:300] + ".")
                if isinstance(item, (list, tuple)):
                    stack.append((item, (*where, i)))
                elif isinstance(item, np.ndarray) and item.dtype == bool:
                    raise TypeError(f"`{name}` must hold ints, got a boolean array at position "
                                    f"{i}.")


def int_array(value, name: str) -> np.ndarray:
    """`value` (an int or ints, any nesting) as an int64 array; booleans and floats refused.

    Raises:
        TypeError: For booleans, floats, strings or objects, naming `name`.

    Example:
        >>> int_array([[0, 2]], "y").shape
        (1, 2)
    """
    no_booleans(value, name)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # ragged
        raise TypeError(f"`{name}` must be an int or ints, got {value!r}"[:300] + ".") from None
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"`{name}` must be an int or ints, got {type(value).__name__} with "
                        f"dtype {arr.dtype}: {value!r}"[:300] + ".")
    return arr.astype("int64")


def model(value, name: str = "model"):
    """`value` if it is a built `keras.Model`.

    Raises:
        TypeError: If it is not a `keras.Model` (e.g. `None`, a path or a layer).
        ValueError: If it is not built (no inputs known yet).

    Example:
        >>> model(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])).built
        True
    """
    import keras

    if not isinstance(value, keras.Model):
        hint = " (load it first with keras.models.load_model)" if isinstance(
            value, (str, os.PathLike)) else ""
        raise TypeError(f"`{name}` must be a keras.Model, got {type(value).__name__}{hint}.")
    if not value.built:
        raise ValueError(
            f"`{name}` {value.name!r} is not built: call it once on data (or give it a "
            "`keras.Input`) before explaining it."
        )
    return value


def _label(fn) -> str:
    label = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return label or type(fn).__name__


def call(fn: Callable, name: str, *args, **kwargs):
    """Calls a user-given callable; an exception it raises names the parameter that gave it.

    A `TypeError` (e.g. a wrong signature) stays a `TypeError`, anything else becomes a
    `ValueError`; the original exception is chained (`raise ... from`), so its traceback is
    kept for debugging.

    Args:
        fn: The callable.
        name: The parameter it was given as (e.g. `"grad_modifier"`).
        *args: Its positional arguments.
        **kwargs: Its keyword arguments.

    Returns:
        What `fn` returns.

    Raises:
        TypeError: `fn` raised a `TypeError`.
        ValueError: `fn` raised any other exception.

    Example:
        >>> call(lambda a: a + 1, "baseline", 1)
        2
    """
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        kind = TypeError if isinstance(exc, TypeError) else ValueError
        raise kind(f"`{name}` ({_label(fn)}) raised {type(exc).__name__}: {exc}"[:1000]) \
            from exc


def returned_array(value, name: str, shape: tuple | None = None, finite: bool = True,
                   what: str = "returned") -> np.ndarray:
    """The output of a user callable as a numeric array, checked.

    Args:
        value: What the callable returned.
        name: The parameter the callable was given as.
        shape: The shape it must have. Defaults to `None` (any).
        finite: Refuse NaN and inf values. Defaults to `True`.
        what: The verb of the messages. Defaults to `"returned"`.

    Returns:
        The array.

    Raises:
        ValueError: `None`, a wrong shape, or NaN / inf values.
        TypeError: Values that are not real numbers.

    Example:
        >>> returned_array(np.ones(3), "grad_modifier", (3,)).shape
        (3,)
    """
    if value is None:
        raise ValueError(f"`{name}` {what} None; expected an array"
                         + (f" of shape {shape}." if shape is not None else "."))
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        arr = np.asarray(None, dtype=object)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) \
            or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"`{name}` {what} {type(value).__name__} of dtype {arr.dtype}; expected "
                        "real numbers.")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"`{name}` {what} an array of shape {arr.shape}; expected shape "
                         f"{tuple(shape)}.")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` {what} NaN or inf values.")
    return arr


def baseline(value, x: np.ndarray, name: str = "baseline", *,
             names: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
             none: str | None = None, allow_callable: bool = True) -> np.ndarray:
    """A baseline option resolved to an array shaped like the batch `x`, in `x`'s dtype.

    Accepted: a number; an array shaped like one input, like the batch, or broadcastable to
    one input (e.g. one value per channel); a callable `x -> baselines` (its output checked
    the same way, its exceptions naming `name`); a documented name (`names`); and `None` when
    `none` says what it means (`"zeros"`).

    Args:
        value: The option's value.
        x: The validated batch `(N, ...)`.
        name: The parameter's name. Defaults to `"baseline"`.
        names: `{name: fn(x) -> baselines}` for the documented names. Defaults to `None`.
        none: What `None` means: `"zeros"`, or `None` to refuse it. Defaults to `None`.
        allow_callable: Accept a callable. Defaults to `True`.

    Returns:
        An array shaped like `x` (possibly a broadcast view).

    Raises:
        ValueError: Unknown names, shapes that do not broadcast, NaN or inf values.
        TypeError: Booleans, `None` (unless `none`), non-numeric values.

    Example:
        >>> baseline(0.5, np.zeros((2, 3))).tolist()
        [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
    """
    names = dict(names or {})
    kinds = (["None (zeros)"] if none else []) + ["a number", "an array"] + (
        ["a callable"] if allow_callable else [])
    expected = ", ".join(kinds[:-1]) + (" or " if not names else ", ") + kinds[-1] + (
        f" or one of {list(names)}" if names else "")
    if value is None and none == "zeros":
        return np.zeros_like(x)
    if isinstance(value, str):
        if value in names:
            b = returned_array(names[value](x), name, what=f"{value!r} gave")
            return np.broadcast_to(b, x.shape).astype(x.dtype)
        raise ValueError(f"`{name}` must be {expected}, got {value!r}.")
    if value is None or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be {expected}, got {value!r}.")
    if callable(value):
        if not allow_callable:
            raise TypeError(f"`{name}` must be {expected}, got the callable {_label(value)}.")
        fn, value = value, call(value, name, x)
        if value is None:
            raise ValueError(f"`{name}` ({_label(fn)}) returned None; expected baselines "
                             f"shaped like the inputs {x.shape}.")
    no_booleans(value, name)
    try:
        b = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be {expected}, got {type(value).__name__}: "
                        f"{value!r}"[:300] + ".") from None
    if not np.all(np.isfinite(b)):
        raise ValueError(f"`{name}` contains NaN or inf values.")
    try:
        b = np.broadcast_to(b, x.shape)
    except ValueError:
        raise ValueError(
            f"`{name}` has shape {b.shape}, which does not broadcast to one input "
            f"{x.shape[1:]} or the batch {x.shape}: `{name}` must be {expected}."
        ) from None
    return b.astype(x.dtype)


def work(copies: int, name: str, value, what: str = "copies of the inputs") -> None:
    """Refuses a request for more than `MAX_COPIES` copies of the inputs in one call.

    Args:
        copies: How many copies the request needs (e.g. `samples * len(x)`).
        name: The parameter that asks for them.
        value: Its value.
        what: What the copies are, for the message. Defaults to `"copies of the inputs"`.

    Raises:
        ValueError: Naming `name`, its value and the number of copies.

    Example:
        >>> work(50 * 8, "samples", 50)
    """
    if copies > MAX_COPIES:
        raise ValueError(
            f"`{name}`={value!r} asks for {int(copies):,} {what} in one call, more than the "
            f"{MAX_COPIES:,} vis accepts: lower `{name}` or explain fewer inputs per call."
        )


def memory(nbytes: int, name: str, value, what: str) -> None:
    """Refuses an array allocated up front that would take more than `MAX_BYTES`.

    Args:
        nbytes: Its size in bytes.
        name: The parameter that sets its size.
        value: Its value.
        what: What the array is, for the message.

    Raises:
        ValueError: Naming `name`, its value and the memory needed.

    Example:
        >>> memory(4000 * 49, "masks", 4000, "mask grids")
    """
    if nbytes > MAX_BYTES:
        raise ValueError(
            f"`{name}`={value!r} needs {nbytes / 2**30:,.1f} GiB for the {what}, more than the "
            f"{MAX_BYTES / 2**30:g} GiB vis allocates at once: lower `{name}`."
        )


def file_path(path, name: str = "path", what: str = "file") -> str:
    """`path` as a string naming an existing regular file.

    Raises:
        TypeError: If `path` is not a `str` or `os.PathLike`.
        FileNotFoundError: If there is no such file.
        ValueError: If it is a directory.

    Example:
        >>> file_path("patterns.npz")  # doctest: +SKIP
        'patterns.npz'
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a file path (str or os.PathLike), got "
                        f"{type(path).__name__}.")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if os.path.isdir(path):
        raise ValueError(f"`{name}` {path!r} is a directory, not a {what}.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"`{name}`: no {what} {path!r}.")
    return path
