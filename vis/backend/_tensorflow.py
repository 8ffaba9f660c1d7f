"""TensorFlow adapter of the backend seam: `tf.function` and `tf.GradientTape`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

from vis.utils.compiled import compile_function

__all__ = ["compile", "stateful", "value_and_grad", "vjp", "to_tensor", "spec"]


def spec(shape: Sequence, dtype) -> tf.TensorSpec:
    """A `tf.TensorSpec` for an input of this shape (`None` for free dimensions)."""
    return tf.TensorSpec(tuple(shape), tf.as_dtype(dtype))


def compile(fn: Callable, specs=None, jit_compile: bool = False) -> Callable:  # noqa: A001
    """`tf.function(fn)` with an input signature of `spec`s (one trace for all batch sizes)."""
    kwargs = {"jit_compile": True} if jit_compile else {}
    return compile_function(fn, specs, **kwargs)


def stateful(fn: Callable, variables: Callable[[], tuple[list, list]], specs=None,
             jit_compile: bool = False) -> Callable:
    """Compiles `fn(values, *args)`; `values` are read from `variables()` inside the graph.

    The graph reads the user's variables directly: nothing is copied per call, and new weights
    are seen without retracing.
    """

    def bound(*args):
        trainable, non_trainable = variables()
        return fn(([v.value for v in trainable], [v.value for v in non_trainable]), *args)

    return compile(bound, specs, jit_compile)


def value_and_grad(fn: Callable, inputs: list, wrt_inputs: Sequence[int],
                   wrt_layers: Sequence[str]):
    """Runs `fn(inputs, hooks) -> (total, aux, recorded)` and differentiates `total`.

    Returns:
        `(aux, grads)`: `grads` lists the gradients w.r.t. `inputs[i]` for `i in wrt_inputs`,
        then w.r.t. the recorded outputs of `wrt_layers` (`None` where there is no path). The
        tape watches those outputs explicitly: a layer computed from integer inputs only (a
        `Rescaling` of uint8 pixels) would otherwise not be recorded.
    """
    with tf.GradientTape() as tape:
        for i in wrt_inputs:
            tape.watch(inputs[i])

        def watch(out):  # a layer fed by integers only (uint8 -> Rescaling) is not recorded
            tape.watch(out)
            return out

        hooks = {p: watch for p in wrt_layers}
        total, aux, rec = fn(inputs, hooks)
    targets = [inputs[i] for i in wrt_inputs] + [rec[p] for p in wrt_layers]
    return aux, tape.gradient(total, targets), [rec[p] for p in wrt_layers]


def to_tensor(array, dtype=None):
    """A TensorFlow tensor from a NumPy array."""
    return tf.convert_to_tensor(array, dtype=dtype)


def vjp(fn: Callable, x, cotangent):
    """`cotangent^T d fn / d x` at `x` (a vector-Jacobian product, for custom gradients)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x, output_gradients=tf.cast(cotangent, y.dtype))
