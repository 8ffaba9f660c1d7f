"""PyTorch adapter of the backend seam: eager calls (optionally `torch.compile`) and `torch.autograd`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import keras
import torch

from vis.backend._portable import identity_patches, translating_errors

__all__ = ["compile", "stateful", "value_and_grad", "vjp", "per_sample_grads", "extract_patches",
           "float64", "to_tensor", "spec"]


def spec(shape, dtype) -> None:
    """Input signatures are not needed on this backend: `None`."""
    return None


def compile(fn: Callable, specs=None, jit_compile: bool = False) -> Callable:  # noqa: A001
    """`fn` itself (PyTorch runs eagerly), or `torch.compile(fn)` with `jit_compile=True`."""
    return torch.compile(fn) if jit_compile else fn


def _tensors(structure):
    return keras.tree.map_structure(to_tensor, structure)


def stateful(fn: Callable, variables: Callable[[], tuple[list, list]], specs=None,
             jit_compile: bool = False) -> Callable:
    """`fn(values, *args)` with the user's current (detached) variable values bound.

    Arguments (arrays, or lists and dicts of them) become tensors on Keras' device; the call
    runs without autograd recording except where `value_and_grad` asks for it.
    """
    compiled = compile(fn, specs, jit_compile)

    def bound(*args):
        trainable, non_trainable = variables()
        values = ([v.value.detach() for v in trainable], [v.value.detach() for v in non_trainable])
        with torch.no_grad():
            return compiled(values, *_tensors(list(args)))

    return translating_errors(bound)


def value_and_grad(fn: Callable, inputs: list, wrt_inputs: Sequence[int],
                   wrt_layers: Sequence[str], create_graph: bool = False):
    """Differentiates `fn(inputs, hooks) -> (total, aux, recorded)` w.r.t. inputs and layers.

    Layer outputs are differentiated through zero offsets that the tap hooks add during the
    forward pass (they are leaves of the autograd graph even when the layer's input is not).
    With `create_graph=True` the gradients stay differentiable (an outer `value_and_grad`
    differentiates through them: second-order gradients); otherwise everything returned is
    detached.
    """
    xs = list(inputs)
    for i in wrt_inputs:
        x = xs[i]
        if not (create_graph and x.requires_grad):
            xs[i] = x.detach().requires_grad_(True)
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
        found = iter(torch.autograd.grad(total, live, allow_unused=True,
                                         create_graph=create_graph) if live else [])
        grads = [None if t is None else next(found) for t in targets]
    if create_graph:
        return aux, grads, [rec.get(p) for p in wrt_layers]
    aux = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in aux)
    return aux, grads, [rec[p].detach() if p in rec else None for p in wrt_layers]


def vjp(fn: Callable, x, cotangent):
    """`cotangent^T d fn / d x` at `x` (a vector-Jacobian product, for custom gradients)."""
    with torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        y = fn(leaf)
        return torch.autograd.grad(y, leaf, grad_outputs=cotangent.to(y.dtype))[0]


def per_sample_grads(fn: Callable, params: list, args: Sequence):
    """`[d fn(params, *sample) / d p for p in params]` for every sample: a loop of autograd.

    `fn` takes one sample of each of `args` (no batch axis) and returns a scalar; parameters
    without a path to it get zero gradients. `torch.func.vmap` does not go through Keras'
    channels-last convolutions, so the samples are differentiated one at a time (exact, slower
    than the batched rules). When `args` require gradients (an outer differentiation), the
    per-sample gradients stay differentiable.
    """
    create_graph = any(isinstance(a, torch.Tensor) and a.requires_grad for a in args)
    rows = []
    with torch.enable_grad():
        for i in range(len(args[0])):
            leaves = [p.detach().requires_grad_(True) for p in params]
            loss = fn(leaves, *[a[i] for a in args])
            grads = torch.autograd.grad(loss, leaves, allow_unused=True,
                                        create_graph=create_graph)
            rows.append([torch.zeros_like(p) if g is None else g for p, g in zip(leaves, grads)])
    if not rows:
        return [torch.zeros((0, *p.shape), dtype=p.dtype, device=p.device) for p in params]
    return [torch.stack([row[j] for row in rows]) for j in range(len(params))]


def extract_patches(x, sizes, strides, rates, padding: str):
    """The input patches of a 2-D convolution (an identity-kernel convolution, exact)."""
    return identity_patches(x, sizes, strides, rates, padding)


def float64():
    """A no-op context: PyTorch always has float64."""
    return contextlib.nullcontext()


def to_tensor(array, dtype=None):
    """A torch tensor (on Keras' device) from a NumPy array."""
    if isinstance(array, torch.Tensor):
        return array if dtype is None else keras.ops.cast(array, dtype)
    return keras.ops.convert_to_tensor(array, dtype=dtype)
