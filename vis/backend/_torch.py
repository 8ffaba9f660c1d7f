"""PyTorch adapter of the backend seam: eager calls and `torch.autograd.grad`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import torch

__all__ = ["compile", "stateful", "value_and_grad", "vjp", "to_tensor", "spec"]


def spec(shape, dtype) -> None:
    """Input signatures are not needed on this backend: `None`."""
    return None


def compile(fn: Callable, specs=None, jit_compile: bool = False) -> Callable:  # noqa: A001
    """`fn` itself (PyTorch runs eagerly), or `torch.compile(fn)` with `jit_compile=True`."""
    return torch.compile(fn) if jit_compile else fn


def stateful(fn: Callable, variables: Callable[[], tuple[list, list]], specs=None,
             jit_compile: bool = False) -> Callable:
    """`fn(values, *args)` with the user's current (detached) variable values bound."""
    compiled = compile(fn, specs, jit_compile)

    def bound(*args):
        trainable, non_trainable = variables()
        values = ([v.value.detach() for v in trainable], [v.value.detach() for v in non_trainable])
        return compiled(values, *[to_tensor(a) for a in args])

    return bound


def value_and_grad(fn: Callable, inputs: list, wrt_inputs: Sequence[int],
                   wrt_layers: Sequence[str]):
    """Differentiates `fn(inputs, hooks) -> (total, aux, recorded)` w.r.t. inputs and layers.

    Layer outputs are differentiated through zero offsets that the tap hooks add during the
    forward pass (they are leaves of the autograd graph even when the layer's input is not).
    """
    xs = list(inputs)
    for i in wrt_inputs:
        xs[i] = xs[i].detach().requires_grad_(True)
    deltas: dict = {}

    def offset(path):
        def hook(out):
            delta = torch.zeros_like(out, requires_grad=True)
            deltas[path] = delta
            return out + delta

        return hook

    with torch.enable_grad():
        total, aux, rec = fn(xs, {p: offset(p) for p in wrt_layers})
        targets = [xs[i] for i in wrt_inputs] + [deltas.get(p) for p in wrt_layers]
        live = [t for t in targets if t is not None]
        found = iter(torch.autograd.grad(total, live, allow_unused=True) if live else [])
        grads = [None if t is None else next(found) for t in targets]
    aux = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in aux)
    return aux, grads, [rec[p].detach() if p in rec else None for p in wrt_layers]


def to_tensor(array, dtype=None):
    """A torch tensor (on Keras' device) from a NumPy array."""
    if isinstance(array, torch.Tensor):
        return array
    return keras.ops.convert_to_tensor(array, dtype=dtype)


def vjp(fn: Callable, x, cotangent):
    """`cotangent^T d fn / d x` at `x` (a vector-Jacobian product, for custom gradients)."""
    with torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        y = fn(leaf)
        return torch.autograd.grad(y, leaf, grad_outputs=cotangent.to(y.dtype))[0]
