"""Per-sample filter saliency of a whole batch, compiled once, on every Keras backend.

Two exact ways to get one kernel gradient per sample:

- `"patches"`: one forward and one backward pass of the batch give, for every scored layer, its
  input `a` and the gradient `dL/dz` of each sample's own loss w.r.t. the layer's pre-activation
  output (samples do not interact in inference mode; the gradient w.r.t. a tapped layer's output
  comes from the backend seam, `vis.backend`). A convolution's kernel gradient is then
  `dW[offset] = sum_p a[window(offset, p)] (x) dL/dz[p]` over output positions p (the receptive
  field patches, with the layer's padding, strides and dilation), a Dense kernel's is
  `a (x) dL/dz`: batched matrix products in `keras.ops`, exact.
- `"vmap"`: a vectorized map of a single-sample gradient w.r.t. the kernels' values (any model
  and layer type): `tf.vectorized_map`, `jax.vmap` or `torch.func.vmap` (`vis.backend`).

The input-space saliency differentiates the per-sample saliency w.r.t. the input: a
second-order gradient through either rule (nested tapes, `jax.grad`, or `torch.autograd` with
`create_graph=True`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import keras

from vis import backend as _backend
from vis.copies import INPUT
from vis.pss._kernels import KernelSpec
from vis.pss._losses import LossPlan, per_sample_loss
from vis.pss._working_copy import WorkingCopy

__all__ = ["SaliencyGraph", "reduce_abs_gradient", "patch_gradient"]

ops = keras.ops


def _dtype(tensor) -> str:
    return keras.backend.standardize_dtype(tensor.dtype)


def reduce_abs_gradient(spec: KernelSpec, abs_grad, granularity: str):
    """Reduces per-sample absolute kernel gradients `(n, *kernel_shape)` to `(n, columns)`."""
    rank = len(spec.kernel_shape)
    if granularity == "parameter":
        return ops.reshape(abs_grad, (ops.shape(abs_grad)[0], -1))
    if spec.kind == "transpose":
        axes = tuple(axis for axis in range(1, rank + 1) if axis != rank - 1)
        return ops.mean(abs_grad, axis=axes)
    if spec.kind == "depthwise":
        n = ops.shape(abs_grad)[0]
        return ops.mean(ops.reshape(abs_grad, (n, -1, spec.n_filters)), axis=1)
    return ops.mean(abs_grad, axis=tuple(range(1, rank)))


def _max0(value):
    return max(value, 0) if isinstance(value, int) else ops.maximum(value, 0)


def _conv_gradient(layer, inputs, dz):
    """Per-sample kernel gradients of a channels-last convolution, `(n, *kernel_size, C, O)`.

    For every kernel offset, the input window that this offset sees at each output position (a
    strided slice of the padded input) is contracted with `dL/dz` over the output positions: one
    batched matrix product `(n, C, positions) @ (n, positions, O)` per offset. Sizes are Python
    ints, or tensors for the free dimensions of a TensorFlow graph.
    """
    rank = len(layer.kernel_size)
    in_shape, out_shape = ops.shape(inputs), ops.shape(dz)
    n = out_shape[0]
    pads = [[0, 0]]
    for axis in range(rank):
        size, out = in_shape[axis + 1], out_shape[axis + 1]
        k, s, d = layer.kernel_size[axis], layer.strides[axis], layer.dilation_rate[axis]
        needed = (out - 1) * s + (k - 1) * d + 1
        if layer.padding == "same":
            before = _max0(needed - size) // 2
        elif layer.padding == "causal":
            before = (k - 1) * d
        else:
            before = 0
        pads.append([before, _max0(needed - size - before)])
    pads.append([0, 0])
    if any(not isinstance(v, int) for pair in pads for v in pair):
        pads = ops.stack([ops.stack([ops.cast(v, "int32") for v in pair]) for pair in pads])
    padded = ops.pad(inputs, pads)
    g = ops.reshape(dz, (n, -1, out_shape[-1]))
    grads = []
    for offset in itertools.product(*(range(k) for k in layer.kernel_size)):
        window = [slice(None)]
        for axis, o in enumerate(offset):
            first = o * layer.dilation_rate[axis]
            step = layer.strides[axis]
            window.append(slice(first, first + (out_shape[axis + 1] - 1) * step + 1, step))
        patch = ops.reshape(padded[tuple(window)], (n, -1, in_shape[-1]))
        grads.append(ops.einsum("npc,npo->nco", ops.cast(patch, g.dtype), g))
    return ops.stack(grads, axis=1)


def _wide(tensor):
    """`tensor` in at least float32 (float16/bfloat16 compute dtypes of mixed precision)."""
    return ops.cast(tensor, "float32") if _dtype(tensor) in ("float16", "bfloat16") else tensor


def patch_gradient(spec: KernelSpec, layer, inputs, dz):
    """Per-sample kernel gradients `(n, *kernel_shape)` from a layer's input and `dL/dz`.

    The products are accumulated in at least float32, also under a mixed-precision policy.
    """
    n = ops.shape(dz)[0]
    dz = _wide(dz)
    if spec.kind == "dense":
        a = ops.reshape(inputs, (n, -1, spec.kernel_shape[0]))
        g = ops.reshape(dz, (n, -1, spec.kernel_shape[-1]))
        grads = ops.einsum("npi,npo->nio", ops.cast(a, g.dtype), g)
    else:
        grads = _conv_gradient(layer, inputs, dz)
    return ops.reshape(grads, (n, *spec.kernel_shape))


class SaliencyGraph:
    """The compiled per-sample saliency and input-space saliency functions.

    Both run the working copy on the user's current variable values (the backend seam's
    `stateful`: read in the graph on TensorFlow, passed to `jax.jit`, detached on PyTorch).
    `moments` (the float64 moments of a batch's saliency) is traced inside the `tf.distribute`
    step of `ParameterSaliency.fit` (TensorFlow only).

    Args:
        working: The model that is differentiated.
        specs: The scored kernels.
        plan: How the loss is computed.
        granularity: `"filter"` or `"parameter"`.
        method: `"patches"` or `"vmap"`.
        input_shape: Input shape without the batch axis (`None` for free dimensions).
        input_dtype: Input dtype.
    """

    def __init__(self, working: WorkingCopy, specs: Sequence[KernelSpec], plan: LossPlan,
                 granularity: str, method: str, input_shape: tuple, input_dtype):
        self.working = working
        self.specs = list(specs)
        self.plan = plan
        self.granularity = granularity
        self.method = method
        self.n_columns = sum(spec.n_columns(granularity) for spec in self.specs)
        B = _backend.get()
        self._x_spec = B.spec((None, *input_shape), input_dtype)
        self._y_spec = B.spec((None,), "int32")
        self.saliency_fn = B.stateful(self.saliency, working.variables,
                                      [self._x_spec, self._y_spec])
        self._input_fns: dict = {}

    def input_saliency_fn(self, x, y, mean, scale, mask, k: int, boost: float):
        """The compiled `input_gradient` (one compiled function per `k`), called in float64."""
        fn = self._input_fns.get(k)
        if fn is None:
            B = _backend.get()
            f64 = B.spec((self.n_columns,), "float64")

            def gradient(values, x, y, mean, scale, mask, boost):
                return self.input_gradient(values, x, y, mean, scale, mask, k, boost)

            fn = self._input_fns[k] = B.stateful(
                gradient, self.working.variables,
                [self._x_spec, self._y_spec, f64, f64, B.spec((None, self.n_columns), "float64"),
                 B.spec((), "float64")])
        with _backend.float64():
            return fn(x, y, mean, scale, mask, boost)

    def saliency(self, values, x, y, create_graph: bool = False):
        """Per-sample saliency `(n, columns)` (symbolic; compiled as `saliency_fn`)."""
        if self.method == "patches":
            return self._saliency_patches(values, x, y, create_graph)
        return self._saliency_vmap(values, x, y)

    def _columns(self, grads):
        grads = [_wide(g) for g in grads]
        dtype = "float64" if any(_dtype(g) == "float64" for g in grads) else "float32"
        parts = [reduce_abs_gradient(spec, ops.cast(ops.abs(g), dtype), self.granularity)
                 for spec, g in zip(self.specs, grads)]
        return ops.concatenate(parts, axis=1)

    def _saliency_vmap(self, values, x, y):
        working = self.working

        def loss_one(kernels, xi, yi):
            outputs, _ = working.call(working.with_kernels(values, kernels), xi[None])
            return ops.sum(per_sample_loss(self.plan, yi[None], outputs))

        grads = _backend.get().per_sample_grads(loss_one, working.kernel_values(values), [x, y])
        return self._columns(list(grads))

    def _saliency_patches(self, values, x, y, create_graph: bool):
        working = self.working
        paths = list(dict.fromkeys(working.tap_paths))

        def loss(inputs, hooks):
            outputs, rec = working.call(values, inputs[0], hooks)
            shared = sorted(set(rec["__shared__"]) & set(paths))
            if shared:
                raise ValueError(
                    f"Layer {shared[0]!r} is called more than once in the model (a shared "
                    "layer): gradient_method='patches' needs each scored layer used once; use "
                    "gradient_method='vmap'."
                )
            total = ops.sum(per_sample_loss(self.plan, y, outputs))
            return total, tuple(rec[p + INPUT] for p in paths), rec

        inputs, dzs, _ = _backend.get().value_and_grad(loss, [x], [], paths, create_graph)
        by_path = {p: (a, dz) for p, a, dz in zip(paths, inputs, dzs)}
        grads = [None] * len(self.specs)
        for index, path in zip(working.tap_specs, working.tap_paths):
            spec = self.specs[index]
            a, dz = by_path[path]
            if dz is None:  # no path from the loss to this layer
                continue
            grads[index] = patch_gradient(spec, working.layer(spec), a, dz)
        n = ops.shape(x)[0]
        kernels = working.kernel_values(values)
        grads = [ops.zeros((n, *s.kernel_shape), kernels[i].dtype) if g is None else g
                 for i, (s, g) in enumerate(zip(self.specs, grads))]
        return self._columns(grads)

    def moments(self, x, y):
        """`(count, mean, sum of squared deviations)` of the batch's saliency, in float64.

        Traced inside a `tf.distribute` replica: the user's variables are read there.
        """
        trainable, non_trainable = self.working.variables()
        values = ([v.value for v in trainable], [v.value for v in non_trainable])
        s = ops.cast(self.saliency(values, x, y), "float64")
        count = ops.cast(ops.shape(s)[0], "int64")
        mean = ops.sum(s, axis=0) / ops.maximum(ops.cast(count, "float64"), 1.0)
        m2 = ops.sum(ops.square(s - mean), axis=0)
        return count, mean, m2

    def input_gradient(self, values, x, y, mean, scale, mask, k: int, boost):
        """Gradient w.r.t. `x` of cos(profile, boosted constant copy), per sample.

        The boosted filters are the top `k` of the profile plus those flagged in `mask`.
        """

        def cosine(inputs, hooks):
            s = ops.cast(self.saliency(values, inputs[0], y, create_graph=True), "float64")
            profile = (s - mean) / scale
            # cos is invariant to a positive constant factor: dividing by max|profile| (held
            # constant) leaves the gradient unchanged and keeps the squares far from overflow.
            size = ops.stop_gradient(ops.max(ops.abs(profile), axis=1, keepdims=True))
            profile = profile / ops.where(size > 0, size, ops.ones_like(size))
            chosen = mask
            if k > 0:
                _, top = ops.top_k(ops.stop_gradient(profile), k=k)
                chosen = chosen + ops.sum(ops.one_hot(top, self.n_columns, dtype="float64"),
                                          axis=1)
            chosen = ops.minimum(chosen, 1.0)
            factor = 1.0 + (boost - 1.0) * chosen
            boosted = ops.stop_gradient(profile * factor)
            squared = ops.sum(profile**2, axis=1) * ops.sum(boosted**2, axis=1)
            norms = ops.sqrt(ops.maximum(squared, 1e-30))
            total = ops.sum(ops.sum(profile * boosted, axis=1) / norms)
            return total, (), {}

        _, (grad,), _ = _backend.get().value_and_grad(cosine, [x], [0], [])
        return ops.zeros_like(x) if grad is None else grad
