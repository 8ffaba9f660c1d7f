"""TensorFlow adapter of the backend seam: `tf.function`, `tf.GradientTape`, `tf.vectorized_map`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import tensorflow as tf

from vis.utils.compiled import compile_function

__all__ = ["compile", "stateful", "value_and_grad", "vjp", "per_sample_grads", "extract_patches",
           "float64", "to_tensor", "spec"]


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
                   wrt_layers: Sequence[str], create_graph: bool = False):
    """Runs `fn(inputs, hooks) -> (total, aux, recorded)` and differentiates `total`.

    Inside an outer `value_and_grad` the gradient computation is itself recorded (nested tapes),
    so `create_graph` is implied on TensorFlow.

    Returns:
        `(aux, grads, layer values)`: `grads` lists the gradients w.r.t. `inputs[i]` for
        `i in wrt_inputs`, then w.r.t. the recorded outputs of `wrt_layers` (`None` where there
        is no path).
    """
    with tf.GradientTape() as tape:
        for i in wrt_inputs:
            tape.watch(inputs[i])
        total, aux, rec = fn(inputs, {})
    targets = [inputs[i] for i in wrt_inputs] + [rec[p] for p in wrt_layers]
    return aux, tape.gradient(total, targets), [rec[p] for p in wrt_layers]


def vjp(fn: Callable, x, cotangent):
    """`cotangent^T d fn / d x` at `x` (a vector-Jacobian product, for custom gradients)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x, output_gradients=tf.cast(cotangent, y.dtype))


def per_sample_grads(fn: Callable, params: list, args: Sequence):
    """`[d fn(params, *sample) / d p for p in params]` for every sample: `tf.vectorized_map`.

    `fn` takes one sample of each of `args` (no batch axis) and returns a scalar; parameters
    without a path to it get zero gradients.
    """
    params = list(params)

    def one(sample):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(params)
            loss = fn(params, *sample)
        return tape.gradient(loss, params, unconnected_gradients="zero")

    return tf.vectorized_map(one, tuple(args))


def extract_patches(x, sizes, strides, rates, padding: str):
    """The input patches of a 2-D convolution: `tf.image.extract_patches` (a gather, exact)."""
    return tf.image.extract_patches(
        x, sizes=[1, *sizes, 1], strides=[1, *strides, 1], rates=[1, *rates, 1],
        padding=padding.upper(),
    )


def float64():
    """A no-op context: TensorFlow always has float64."""
    return contextlib.nullcontext()


def to_tensor(array, dtype=None):
    """A TensorFlow tensor from a NumPy array."""
    return tf.convert_to_tensor(array, dtype=dtype)
