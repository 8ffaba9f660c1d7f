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


def compile_function(python_function: Callable, input_signature: Sequence | None = None, **kwargs):
    """`tf.function(python_function, input_signature=...)` without the false retracing warning.

    Args:
        python_function: The function to compile.
        input_signature: The `tf.TensorSpec`s (use `None` batch dimensions). Defaults to `None`.
        **kwargs: Other `tf.function` arguments.

    Returns:
        The compiled `tf.types.experimental.PolymorphicFunction`.

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
    return compiled
