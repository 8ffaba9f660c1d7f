"""TensorFlow adapter of the backend seam: `tf.function`, `tf.GradientTape`, `tf.vectorized_map`."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from vis.utils.compiled import compile_function

__all__ = ["compile", "stateful", "value_and_grad", "vjp", "per_sample_grads", "extract_patches",
           "float64", "to_tensor", "spec", "Compiled"]


def spec(shape: Sequence, dtype) -> tf.TensorSpec:
    """A `tf.TensorSpec` for an input of this shape (`None` for free dimensions)."""
    return tf.TensorSpec(tuple(shape), tf.as_dtype(dtype))


def compile(fn: Callable, specs=None, jit_compile: bool = False) -> Callable:  # noqa: A001
    """`tf.function(fn)` with an input signature of `spec`s (one trace for all batch sizes)."""
    kwargs = {"jit_compile": True} if jit_compile else {}
    return compile_function(fn, specs, **kwargs)


_SMALL: dict = {}  # tensors of tiny arrays (loss weights): converting them costs more than a key
_SMALL_SIZE, _SMALL_ENTRIES = 16, 256


def _as_tensor(value, tensor_spec: tf.TensorSpec):
    """`value` as a tensor of the spec's dtype."""
    if isinstance(value, tf.Tensor):
        return value if value.dtype == tensor_spec.dtype else tf.cast(value, tensor_spec.dtype)
    array = np.asarray(value)
    want = tensor_spec.dtype.as_numpy_dtype
    if array.dtype != want:
        array = array.astype(want, casting="same_kind")
    if array.size > _SMALL_SIZE:
        return tf.constant(array)
    key = (array.dtype.str, array.shape, array.tobytes())
    tensor = _SMALL.get(key)
    if tensor is None:
        if len(_SMALL) >= _SMALL_ENTRIES:
            _SMALL.clear()
        tensor = _SMALL[key] = tf.constant(array)
    return tensor


class Compiled:
    """A `tf.function` with an input signature, called through its one concrete function.

    Converting the NumPy arguments to tensors here and calling the concrete function skips
    the polymorphic dispatch of `tf.function` (its per-call signature matching and argument
    conversion): about 0.2 ms less per call, which is what a single-image explanation costs
    beyond the compiled pass itself. Behaves like the `tf.function` otherwise.

    Args:
        function: The `tf.function` (made with an `input_signature`).
        specs: Its input signature (nested lists of `tf.TensorSpec`).

    Attributes:
        function: The `tf.function`.
        python_function: The traced Python function (e.g. to run it under a distribution
            strategy's `run`).
    """

    def __init__(self, function, specs, python_function: Callable):
        self.function = function
        self.python_function = python_function
        self._specs = list(specs)
        self._concrete = None
        self._lock = threading.Lock()

    def _tensors(self, args):
        out = []
        for value, s in zip(args, self._specs):
            if isinstance(s, (list, tuple)):
                out.append([_as_tensor(v, t) for v, t in zip(value, s)])
            else:
                out.append(_as_tensor(value, s))
        return out

    def __call__(self, *args):
        try:
            return self._call(*args)
        except Exception as exc:  # as the `tf.function` of `compile_function` would
            from vis.errors import backend_error

            err = backend_error(exc)
            if err is None:
                raise
            raise err from exc

    def _call(self, *args):
        concrete = self._concrete
        if concrete is None:
            with self._lock:
                if self._concrete is None:
                    self._concrete = self.function.get_concrete_function()
                concrete = self._concrete
        if len(args) != len(self._specs):
            raise TypeError(f"Expected {len(self._specs)} arguments, got {len(args)}.")
        return concrete(*self._tensors(args))

    def experimental_get_tracing_count(self) -> int:
        """How many times the function was traced (1 once it ran)."""
        return self.function.experimental_get_tracing_count()


def stateful(fn: Callable, variables: Callable[[], tuple[list, list]], specs=None,
             jit_compile: bool = False) -> Callable:
    """Compiles `fn(values, *args)`; `values` are read from `variables()` inside the graph.

    The graph reads the user's variables directly: nothing is copied per call, and new weights
    are seen without retracing. With `specs`, returns a `Compiled` (called through its
    concrete function); else the `tf.function`.
    """

    def bound(*args):
        trainable, non_trainable = variables()
        return fn(([v.value for v in trainable], [v.value for v in non_trainable]), *args)

    function = compile(bound, specs, jit_compile)
    if specs is None:
        return function
    return Compiled(function, specs, bound)


def value_and_grad(fn: Callable, inputs: list, wrt_inputs: Sequence[int],
                   wrt_layers: Sequence[str], create_graph: bool = False):
    """Runs `fn(inputs, hooks) -> (total, aux, recorded)` and differentiates `total`.

    Inside an outer `value_and_grad` the gradient computation is itself recorded (nested tapes),
    so `create_graph` is implied on TensorFlow.

    Returns:
        `(aux, grads, layer values)`: `grads` lists the gradients w.r.t. `inputs[i]` for
        `i in wrt_inputs`, then w.r.t. the recorded outputs of `wrt_layers` (`None` where there
        is no path). The tape watches those outputs explicitly: a layer computed from integer
        inputs only (a `Rescaling` of uint8 pixels) would otherwise not be recorded.
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
