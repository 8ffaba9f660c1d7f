"""JAX adapter of the backend seam: `jax.jit`, `jax.value_and_grad`, `jax.vjp`, `jax.vmap`."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vis.backend._portable import identity_patches, translating_errors

__all__ = ["compile", "stateful", "value_and_grad", "vjp", "per_sample_grads", "extract_patches",
           "float64", "to_tensor", "spec", "data_parallel", "active_mesh", "place"]

_LOCAL = threading.local()  # the mesh of `data_parallel` of this thread


@contextlib.contextmanager
def data_parallel(mesh: jax.sharding.Mesh, axis: str) -> Iterator[None]:
    """Within the block, the compiled functions of this thread shard their batches over `mesh`.

    Every array argument of a compiled call whose leading axis is the call's batch (the leading
    axis of its first array argument), of a size divisible by the number of devices along `axis`,
    is placed with `NamedSharding(mesh, PartitionSpec(axis))`; `jax.jit` then runs one share of the
    batch on each device (SPMD). The other arguments (weights, scalars) are left where they are and
    replicated by `jax.jit`. A sharding is a layout only: the results are the same numbers.
    A batch whose size is not a multiple of the number of devices runs on one device.

    Args:
        mesh: A `jax.sharding.Mesh`.
        axis: The name of the mesh axis that splits the batch.
    """
    previous = getattr(_LOCAL, "mesh", None)
    _LOCAL.mesh = (mesh, axis)
    try:
        yield
    finally:
        _LOCAL.mesh = previous


def active_mesh() -> tuple | None:
    """`(mesh, axis)` of the innermost `data_parallel` block of this thread, or `None`."""
    return getattr(_LOCAL, "mesh", None)


def place(args: tuple) -> tuple:
    """`args` with their batch arrays sharded over the active mesh (unchanged without one)."""
    active = active_mesh()
    if active is None:
        return args
    mesh, axis = active
    leaves = [a for a in jax.tree_util.tree_leaves(args) if getattr(a, "ndim", 0) >= 1]
    if not leaves:
        return args
    n, devices = leaves[0].shape[0], mesh.shape[axis]
    if devices < 2 or n < devices or n % devices:
        return args
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(axis))

    def put(a):
        if isinstance(a, (np.ndarray, jax.Array)) and a.ndim >= 1 and a.shape[0] == n:
            return jax.device_put(a, sharding)
        return a

    return jax.tree_util.tree_map(put, args)


def spec(shape, dtype) -> None:
    """Input signatures are not needed on this backend: `None`."""
    return None


def compile(fn: Callable, specs=None, jit_compile: bool = True) -> Callable:  # noqa: A001
    """`jax.jit(fn)` (one trace per input shape; `specs` are not needed).

    Inside `data_parallel`, the batch arguments are sharded over the mesh (see `place`).
    """
    jitted = jax.jit(fn)

    def call(*args):
        return jitted(*place(args))

    return translating_errors(call)


def stateful(fn: Callable, variables: Callable[[], tuple[list, list]], specs=None,
             jit_compile: bool = True) -> Callable:
    """Jits `fn(values, *args)`; the user's current variable values are passed at every call.

    The values are the variables' own arrays (`variable.value`, no copy); a new value (after
    training) is a new argument of the same shape, so nothing is re-traced.
    """
    jitted = jax.jit(fn)

    def bound(*args):
        trainable, non_trainable = variables()
        return jitted(([v.value for v in trainable], [v.value for v in non_trainable]),
                      *place(args))

    return translating_errors(bound)


def value_and_grad(fn: Callable, inputs: list, wrt_inputs: Sequence[int],
                   wrt_layers: Sequence[str], create_graph: bool = False):
    """Differentiates `fn(inputs, hooks) -> (total, aux, recorded)` w.r.t. inputs and layers.

    Layer outputs are differentiated through zero offsets added by tap hooks (their shapes come
    from an abstract evaluation of the forward pass). Composable with an outer `jax.grad`
    (`create_graph` is implied on JAX).
    """
    layer_shapes = {}
    if wrt_layers:
        def recorded(xs):
            _, _, rec = fn(xs, {})
            return {p: rec[p] for p in wrt_layers}

        layer_shapes = jax.eval_shape(recorded, list(inputs))

    def total(diff_inputs, deltas):
        xs = list(inputs)
        for i, x in zip(wrt_inputs, diff_inputs):
            xs[i] = x
        hooks = {p: (lambda out, d=deltas[p]: out + d) for p in wrt_layers}
        t, aux, rec = fn(xs, hooks)
        return t, (aux, [rec[p] for p in wrt_layers])

    deltas = {p: jnp.zeros(s.shape, s.dtype) for p, s in layer_shapes.items()}
    (_, (aux, values)), (g_in, g_layers) = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(
        [inputs[i] for i in wrt_inputs], deltas
    )
    return aux, list(g_in) + [g_layers[p] for p in wrt_layers], values


def vjp(fn: Callable, x, cotangent):
    """`cotangent^T d fn / d x` at `x` (a vector-Jacobian product, for custom gradients)."""
    y, pullback = jax.vjp(fn, x)
    return pullback(cotangent.astype(y.dtype))[0]


def per_sample_grads(fn: Callable, params: list, args: Sequence):
    """`[d fn(params, *sample) / d p for p in params]` for every sample: `jax.vmap(jax.grad)`.

    `fn` takes one sample of each of `args` (no batch axis) and returns a scalar.
    """
    grad = jax.grad(lambda p, *a: fn(p, *a))
    return jax.vmap(grad, in_axes=(None,) + (0,) * len(args))(list(params), *args)


def extract_patches(x, sizes, strides, rates, padding: str):
    """The input patches of a 2-D convolution (an identity-kernel convolution, exact)."""
    return identity_patches(x, sizes, strides, rates, padding)


def float64():
    """`jax.enable_x64(True)`: float64 stays float64 inside (JAX truncates it otherwise)."""
    return jax.enable_x64(True)


def to_tensor(array, dtype=None):
    """A JAX array from a NumPy array."""
    return jnp.asarray(array, dtype=dtype)
