"""`compile_function`: a `tf.function` built for one fixed input signature.

vis compiles one function per (model copy, target, modifier) with a `None` batch dimension, so
each is traced once. TensorFlow's frequent-retracing detector counts traces per *code object*,
not per function, and would warn "N out of the last N calls triggered retracing" as soon as a few
models or targets are explained — a false alarm for these functions, which is silenced here.
Genuine retracing is still visible through `experimental_get_tracing_count()`, which the tests
check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

__all__ = ["compile_function"]


class _Checked:
    """A compiled function whose backend errors reach the user as one clear `ValueError`.

    Calls go to the `tf.function`; TensorFlow's `InvalidArgumentError` and the like (a layer
    failing on the inputs, an out-of-memory batch) are translated by
    `vis.errors.backend_error`. Every other attribute is the `tf.function`'s own.
    """

    def __init__(self, function):
        self._function = function

    def __call__(self, *args, **kwargs):
        try:
            return self._function(*args, **kwargs)
        except Exception as exc:
            from vis.errors import backend_error

            err = backend_error(exc)
            if err is None:
                raise
            raise err from exc

    def __getattr__(self, name):
        return getattr(self._function, name)


def compile_function(python_function: Callable, input_signature: Sequence | None = None, **kwargs):
    """`tf.function(python_function, input_signature=...)` without the false retracing warning.

    Errors of TensorFlow raised inside the call (a layer failing on the inputs, out of memory)
    come back as a `ValueError` saying what to do (see `vis.errors.backend_error`).

    Args:
        python_function: The function to compile.
        input_signature: The `tf.TensorSpec`s (use `None` batch dimensions). Defaults to `None`.
        **kwargs: Other `tf.function` arguments.

    Returns:
        The compiled function: a `tf.types.experimental.PolymorphicFunction`'s callable proxy
        (its attributes, e.g. `experimental_get_tracing_count`, are the function's).

    Example:
        >>> square = compile_function(lambda t: t * t, [tf.TensorSpec((None,), tf.float32)])
        >>> square(tf.constant([1.0, 3.0])).numpy()
        array([1., 9.], dtype=float32)
        >>> _ = square(tf.constant([2.0, 4.0, 5.0]))  # another batch size: no retracing
        >>> square.experimental_get_tracing_count()
        1
    """
    compiled = tf.function(python_function, input_signature=input_signature, **kwargs)
    if hasattr(compiled, "_omit_frequent_tracing_warning"):
        compiled._omit_frequent_tracing_warning = True
    return _Checked(compiled)
