"""JAX adapter of the backend seam: `jax.jit`, `jax.value_and_grad`, `jax.vjp`, `jax.vmap`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from vis.backend._portable import identity_patches

__all__ = ["compile", "stateful", "value_and_grad", "vjp", "per_sample_grads", "extract_patches",
           "float64", "to_tensor", "spec"]


def spec(shape, dtype) -> None:
    """Input signatures are not needed on this backend: `None`."""
    return None


def compile(fn: Callable, specs=None, jit_compile: bool = True) -> Callable:  # noqa: A001
    """`jax.jit(fn)` (one trace per input shape; `specs` are not needed)."""
    return jax.jit(fn)


def stateful(fn: Callable, variables: Callable[[], tuple[list, list]], specs=None,
             jit_compile: bool = True) -> Callable:
    """Jits `fn(values, *args)`; the user's current variable values are passed at every call.

    The values are the variables' own arrays (`variable.value`, no copy); a new value (after
    training) is a new argument of the same shape, so nothing is re-traced.
    """
    jitted = jax.jit(fn)

    def bound(*args):
        trainable, non_trainable = variables()
        return jitted(([v.value for v in trainable], [v.value for v in non_trainable]), *args)

    return bound


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
