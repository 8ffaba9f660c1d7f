"""Gradient modifiers: post-process a raw gradient map (keras-vis `grad_modifier`).

Each modifier is a small function `array -> array` applied to the raw per-sample gradient before
channel reduction and normalization.

- `absolute` (default of `visualize_saliency`): `|g|`, which pixels matter regardless of sign.
- `square`: `g ** 2`.
- `negate`: `-g`; for a regression output, what *decreases* it.
- `relu`: `max(g, 0)`, the positive evidence only.
- `invert`: `1 / (g + 1e-7)`, keras-vis' formula (zeros map to `1e7`).
- `small_values`: `|1 / (g + 1e-7)|`; for a regression output, what keeps it *steady*.
- `linear` / `None`: `g` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vis.registry import Registry
from vis.utils import checks

__all__ = ["get", "checked", "register", "names", "absolute", "square", "negate", "relu", "invert",
           "small_values", "linear", "tensor_twin"]

_EPS = 1e-7


def linear(grads: np.ndarray) -> np.ndarray:
    """Returns the gradient unchanged (the signed, raw map).

    This is what `grad_modifier=None` or `'linear'` selects.

    Args:
        grads: The raw gradient array, any shape.

    Returns:
        `grads` itself (not a copy).

    Example:
        >>> linear(np.array([-2.0, 0.5]))
        array([-2. ,  0.5])
    """
    return grads


def absolute(grads: np.ndarray) -> np.ndarray:
    """Absolute value `|g|`: which inputs matter, regardless of the sign.

    The default `grad_modifier` of `visualize_saliency`, as in Simonyan et al. (2014).

    Args:
        grads: The raw gradient array, any shape.

    Returns:
        A new array of the same shape and dtype.

    Example:
        >>> absolute(np.array([-2.0, 0.5]))
        array([2. , 0.5])
    """
    return np.abs(grads)


def square(grads: np.ndarray) -> np.ndarray:
    """Square `g ** 2`: like `absolute`, but emphasizes the largest gradients.

    Args:
        grads: The raw gradient array, any shape.

    Returns:
        A new array of the same shape and dtype.

    Example:
        >>> square(np.array([-2.0, 0.5]))
        array([4.  , 0.25])
    """
    return np.square(grads)


def negate(grads: np.ndarray) -> np.ndarray:
    """Negation `-g`: what *decreases* the score (e.g. of a regression output).

    Args:
        grads: The raw gradient array, any shape.

    Returns:
        A new array of the same shape and dtype.

    Example:
        >>> negate(np.array([-2.0, 0.5]))
        array([ 2. , -0.5])
    """
    return -grads


def relu(grads: np.ndarray) -> np.ndarray:
    """Positive part `max(g, 0)`: only the evidence that increases the score.

    A map with no positive gradient becomes all zero (`visualize_*` then warns with
    `ZeroMapWarning`).

    Args:
        grads: The raw gradient array, any shape.

    Returns:
        A new array of the same shape.

    Example:
        >>> relu(np.array([-2.0, 0.5]))
        array([0. , 0.5])
    """
    return np.maximum(grads, 0)


def invert(grads: np.ndarray) -> np.ndarray:
    """Inverse `1 / (g + eps)`, with `eps = 1e-7` (Keras' default epsilon): keras-vis' formula.

    Exactly keras-vis' `invert`: a zero gradient maps to `1e7`; the shift is always by `+eps`,
    so a gradient of exactly `-eps` has no finite inverse (the `visualize_*` functions then
    raise a `ValueError` about non-finite values).

    Args:
        grads: The raw gradient array, any shape.

    Returns:
        A new float array of the same shape.

    Example:
        >>> invert(np.array([0.5, -2.0, 0.0])).round(3)
        array([ 2.e+00, -5.e-01,  1.e+07])
    """
    grads = np.asarray(grads)
    with np.errstate(divide="ignore"):
        return 1.0 / (grads + np.asarray(_EPS, dtype=grads.dtype if grads.dtype.kind == "f"
                                          else "float64"))


def small_values(grads: np.ndarray) -> np.ndarray:
    """`|1 / (g + eps)|` (`eps = 1e-7`): large where the gradient is small (keras-vis' formula).

    Exactly keras-vis' `small_values` (`absolute(invert(g))`); useful for regression outputs
    (keras-vis' "maintain the current value" map).

    Args:
        grads: The raw gradient array, any shape.

    Returns:
        A new non-negative float array of the same shape.

    Example:
        >>> small_values(np.array([0.5, -2.0])).round(3)
        array([2. , 0.5])
    """
    return np.abs(invert(grads))


def _coerce(identifier) -> Callable:
    if callable(identifier):
        return identifier
    raise TypeError(
        f"`grad_modifier` must be None, a name or a callable, got {type(identifier).__name__}."
    )


REGISTRY: Registry[Callable] = Registry("grad_modifier", coerce=_coerce,
                                        accepts="None or a callable array -> array")
for _fn in (absolute, square, negate, relu, invert, small_values, linear):
    REGISTRY.register(_fn.__name__, _fn)


def register(name: str, fn: Callable) -> None:
    """Registers a gradient modifier under `name`, for `grad_modifier=name`.

    The modifier is applied to the raw per-sample gradient array `(N, ...)` before the channel
    reduction and the normalization. An existing registration under the same name is replaced.

    Args:
        name: A non-empty registry name.
        fn: A function `array -> array` (NumPy in, NumPy out, usually the same shape).

    Raises:
        ValueError: If `name` is not a non-empty string.
        TypeError: If `fn` is not callable.

    Example:
        >>> register("cube", lambda g: g ** 3)
        >>> get("cube")(np.array([2.0, -1.0]))
        array([ 8., -1.])
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable, got {type(fn).__name__}.")
    REGISTRY.register(name, fn)


def names() -> list[str]:
    """Returns the names of the registered gradient modifiers.

    Returns:
        The names, sorted alphabetically (built-ins and those added with `register`).

    Example:
        >>> "absolute" in names() and "small_values" in names()
        True
    """
    return REGISTRY.names()


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
    return REGISTRY.get(identifier)


def _tensor_invert(grads):
    """`invert` in `keras.ops`: `1 / (g + eps)`, `inf` where `g == -eps` (as NumPy gives)."""
    import keras

    shifted = grads + keras.ops.cast(_EPS, grads.dtype)
    # not `1 / shifted`: TensorFlow's graph optimizer turns that into an approximate
    # reciprocal (1 ulp off NumPy); `divide_no_nan` stays a correctly rounded division
    inverse = keras.ops.divide_no_nan(keras.ops.ones_like(shifted), shifted)
    return keras.ops.where(shifted == 0, keras.ops.cast(np.inf, grads.dtype), inverse)


def _tensor_twins() -> dict:
    import keras

    return {
        linear: lambda g: g,
        absolute: keras.ops.abs,
        square: keras.ops.square,
        negate: keras.ops.negative,
        relu: lambda g: keras.ops.maximum(g, keras.ops.zeros_like(g)),
        invert: _tensor_invert,
        small_values: lambda g: keras.ops.abs(_tensor_invert(g)),
    }


def tensor_twin(identifier) -> Callable | None:
    """The `keras.ops` version of a built-in modifier, or `None` for any other modifier.

    The keras-vis functions apply a built-in modifier inside the compiled gradient function
    (`vis.visualization._postprocess.GraphFinish`), with the same float32 results as the NumPy
    function; a callable, or a name registered by the user (also one that replaces a built-in),
    stays in NumPy after the compiled call.

    Args:
        identifier: Anything `get` accepts.

    Returns:
        A function `tensor -> tensor`, or `None`.

    Raises:
        ValueError: If the name is unknown.
        TypeError: If `identifier` is of an unsupported type.

    Example:
        >>> tensor_twin("absolute") is not None, tensor_twin(np.abs)
        (True, None)
    """
    fn = get(identifier)
    return next((twin for builtin, twin in _tensor_twins().items() if builtin is fn), None)


def checked(identifier) -> Callable:
    """`get(identifier)`, whose output is checked on every call: what every map applies.

    The modifier's exceptions name `grad_modifier` (see `vis.utils.checks.call`), and what it
    returns must be finite numbers of the gradient's shape: a modifier returning NaN, a scalar
    or `None` raises a `ValueError` naming `grad_modifier` instead of giving a silent all-zero
    or 0-d map.

    Args:
        identifier: Anything `get` accepts.

    Returns:
        A function `array -> array` (`linear` itself for `None` / `'linear'`).

    Raises:
        ValueError: As `get`; and, when called, for outputs of another shape, `None` or NaN/inf.
        TypeError: As `get`; and, when called, for non-numeric outputs.

    Example:
        >>> checked(lambda g: g * np.nan)(np.ones(2))
        Traceback (most recent call last):
        ValueError: `grad_modifier` returned NaN or inf values.
    """
    fn = get(identifier)
    if fn is linear:
        return fn

    def modifier(grads):
        out = checks.call(fn, "grad_modifier", grads)
        shape = np.shape(grads)
        try:
            out_shape = None if out is None else np.shape(out)
        except ValueError:  # a ragged sequence
            out_shape = "ragged"
        if out is None or out_shape != shape:
            got = ("None" if out is None else "a ragged sequence" if out_shape == "ragged"
                   else f"an array of shape {out_shape}")
            raise ValueError(f"`grad_modifier` {identifier!r} returned {got} for maps of shape "
                             f"{shape}; a grad modifier must return an array of the same shape.")
        return checks.returned_array(out, "grad_modifier")

    modifier.__name__ = getattr(fn, "__name__", "grad_modifier")
    return modifier
