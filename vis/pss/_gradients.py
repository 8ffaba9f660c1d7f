"""Per-sample filter saliency of a whole batch, compiled once.

Two exact ways to get one kernel gradient per sample:

- `"patches"`: one forward and one backward pass of the batch give, for every scored layer, its
  input `a` and the gradient `dL/dz` of each sample's own loss w.r.t. the layer's pre-activation
  output (samples do not interact in inference mode). A convolution's kernel gradient is then
  `dW[offset] = sum_p a[window(offset, p)] (x) dL/dz[p]` over output positions p (the receptive
  field patches, with the layer's padding, strides and dilation), a Dense kernel's is
  `a (x) dL/dz`: batched matrix products, exact.
- `"vmap"`: `tf.vectorized_map` of a single-sample `GradientTape` (any model and layer type; TF
  runs the convolution's filter gradient of that path as a loop inside the graph).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import tensorflow as tf

from vis.pss._kernels import KernelSpec
from vis.pss._losses import LossPlan, per_sample_loss
from vis.pss._working_copy import WorkingCopy
from vis.utils.compiled import compile_function

__all__ = ["SaliencyGraph", "reduce_abs_gradient", "patch_gradient"]


def reduce_abs_gradient(spec: KernelSpec, abs_grad: tf.Tensor, granularity: str) -> tf.Tensor:
    """Reduces per-sample absolute kernel gradients `(n, *kernel_shape)` to `(n, columns)`."""
    n = tf.shape(abs_grad)[0]
    rank = len(spec.kernel_shape)
    if granularity == "parameter":
        return tf.reshape(abs_grad, [n, -1])
    if spec.kind == "transpose":
        axes = [axis for axis in range(1, rank + 1) if axis != rank - 1]
        return tf.reduce_mean(abs_grad, axis=axes)
    if spec.kind == "depthwise":
        return tf.reduce_mean(tf.reshape(abs_grad, [n, -1, spec.n_filters]), axis=1)
    return tf.reduce_mean(abs_grad, axis=list(range(1, rank)))


def _conv_gradient(layer, inputs: tf.Tensor, dz: tf.Tensor) -> tf.Tensor:
    """Per-sample kernel gradients of a channels-last convolution, `(n, *kernel_size, C, O)`.

    For every kernel offset, the input window that this offset sees at each output position (a
    strided slice of the padded input) is contracted with `dL/dz` over the output positions: one
    batched matrix product `(n, C, positions) @ (n, positions, O)` per offset.
    """
    rank = len(layer.kernel_size)
    n = tf.shape(dz)[0]
    in_shape, out_shape = tf.shape(inputs), tf.shape(dz)
    pads = [[0, 0]]
    for axis in range(rank):
        size, out = in_shape[axis + 1], out_shape[axis + 1]
        k, s, d = layer.kernel_size[axis], layer.strides[axis], layer.dilation_rate[axis]
        needed = (out - 1) * s + (k - 1) * d + 1
        if layer.padding == "same":
            before = tf.maximum(needed - size, 0) // 2
        elif layer.padding == "causal":
            before = tf.constant((k - 1) * d)
        else:
            before = tf.constant(0)
        pads.append([before, tf.maximum(needed - size - before, 0)])
    pads.append([0, 0])
    padded = tf.pad(inputs, tf.stack([tf.stack(p) for p in pads]))
    g = tf.reshape(dz, [n, -1, out_shape[-1]])
    grads = []
    for offset in itertools.product(*(range(k) for k in layer.kernel_size)):
        window = [slice(None)]
        for axis, o in enumerate(offset):
            first = o * layer.dilation_rate[axis]
            step = layer.strides[axis]
            window.append(slice(first, first + (out_shape[axis + 1] - 1) * step + 1, step))
        patch = tf.reshape(padded[tuple(window)], [n, -1, in_shape[-1]])
        grads.append(tf.matmul(tf.cast(patch, g.dtype), g, transpose_a=True))
    return tf.stack(grads, axis=1)


def _wide(tensor: tf.Tensor) -> tf.Tensor:
    """`tensor` in at least float32 (float16/bfloat16 compute dtypes of mixed precision)."""
    return tf.cast(tensor, tf.float32) if tensor.dtype.size < 4 else tensor


def patch_gradient(spec: KernelSpec, layer, inputs: tf.Tensor, dz: tf.Tensor) -> tf.Tensor:
    """Per-sample kernel gradients `(n, *kernel_shape)` from a layer's input and `dL/dz`.

    The products are accumulated in at least float32, also under a mixed-precision policy.
    """
    n = tf.shape(dz)[0]
    dz = _wide(dz)
    if spec.kind == "dense":
        a = tf.reshape(inputs, [n, -1, spec.kernel_shape[0]])
        g = tf.reshape(dz, [n, -1, spec.kernel_shape[-1]])
        grads = tf.matmul(tf.cast(a, g.dtype), g, transpose_a=True)
    else:
        grads = _conv_gradient(layer, inputs, dz)
    return tf.reshape(grads, [n, *spec.kernel_shape])


def _tf_variable(variable):
    """The `tf.Variable` behind a Keras variable (what `GradientTape.watch` accepts)."""
    value = getattr(variable, "value", variable)
    return value if isinstance(value, tf.Variable) else variable


class SaliencyGraph:
    """The compiled per-sample saliency and input-space saliency functions.

    `moments` (the float64 moments of a batch's saliency) is traced inside the `tf.distribute`
    step of `ParameterSaliency.fit`.

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
        self.kernels = [_tf_variable(working.kernel(spec)) for spec in self.specs]
        self.n_columns = sum(spec.n_columns(granularity) for spec in self.specs)
        x_spec = tf.TensorSpec((None, *input_shape), input_dtype)
        y_spec = tf.TensorSpec((None,), tf.int64)
        self.saliency_fn = compile_function(
            self.saliency, [x_spec, y_spec], autograph=False
        )
        f_spec = tf.TensorSpec((self.n_columns,), tf.float64)
        self.input_saliency_fn = compile_function(
            self.input_gradient,
            [x_spec, y_spec, f_spec, f_spec,
                             tf.TensorSpec((None, self.n_columns), tf.float64),
                             tf.TensorSpec((), tf.int32), tf.TensorSpec((), tf.float64)],
            autograph=False,
        )

    def saliency(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        """Per-sample saliency `(n, columns)` (symbolic; compiled as `saliency_fn`)."""
        if self.method == "patches":
            return self._saliency_patches(x, y)
        return tf.vectorized_map(self._one_sample, (x, y))

    def _columns(self, grads) -> tf.Tensor:
        grads = [_wide(g) for g in grads]
        dtype = tf.float64 if any(g.dtype == tf.float64 for g in grads) else tf.float32
        parts = [reduce_abs_gradient(spec, tf.cast(tf.abs(g), dtype), self.granularity)
                 for spec, g in zip(self.specs, grads)]
        return tf.concat(parts, axis=1)

    def _one_sample(self, args) -> tf.Tensor:
        x, y = args
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(self.kernels)
            outputs = self.working.model(x[None], training=False)
            loss = tf.reduce_sum(per_sample_loss(self.plan, y[None], outputs))
        grads = tape.gradient(loss, self.kernels, unconnected_gradients="zero")
        return self._columns([g[None] for g in grads])[0]

    def _saliency_patches(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        n_taps = len(self.working.tap_specs)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(self.kernels)
            outputs = self.working.model(x, training=False)
            loss = tf.reduce_sum(per_sample_loss(self.plan, y, outputs[0]))
        inputs, pre_activations = outputs[1:1 + n_taps], outputs[1 + n_taps:]
        dzs = tape.gradient(loss, pre_activations, unconnected_gradients="zero")
        grads = [None] * len(self.specs)
        for index, a, dz in zip(self.working.tap_specs, inputs, dzs):
            spec = self.specs[index]
            g = patch_gradient(spec, self.working.layer(spec), a, dz)
            grads[index] = g if grads[index] is None else grads[index] + g
        n = tf.shape(x)[0]
        grads = [tf.zeros([n, *s.kernel_shape], self.kernels[i].dtype) if g is None else g
                 for i, (s, g) in enumerate(zip(self.specs, grads))]
        return self._columns(grads)

    def moments(self, x: tf.Tensor, y: tf.Tensor):
        """`(count, mean, sum of squared deviations)` of the batch's saliency, in float64."""
        s = tf.cast(self.saliency(x, y), tf.float64)
        count = tf.shape(s, out_type=tf.int64)[0]
        mean = tf.reduce_sum(s, axis=0) / tf.maximum(tf.cast(count, tf.float64), 1.0)
        m2 = tf.reduce_sum(tf.square(s - mean), axis=0)
        return count, mean, m2

    def input_gradient(self, x, y, mean, scale, mask, k, boost) -> tf.Tensor:
        """Gradient w.r.t. `x` of cos(profile, boosted constant copy), per sample.

        The boosted filters are the top `k` of the profile plus those flagged in `mask`.
        """
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            s = tf.cast(self.saliency(x, y), tf.float64)
            profile = (s - mean) / scale
            # cos is invariant to a positive constant factor: dividing by max|profile| (held
            # constant) leaves the gradient unchanged and keeps the squares far from overflow.
            size = tf.stop_gradient(tf.reduce_max(tf.abs(profile), axis=1, keepdims=True))
            profile = profile / tf.where(size > 0, size, tf.ones_like(size))
            top = tf.math.top_k(tf.stop_gradient(profile), k=k).indices
            chosen = tf.reduce_sum(tf.one_hot(top, self.n_columns, dtype=s.dtype), axis=1)
            chosen = tf.minimum(chosen + mask, 1.0)
            factor = 1.0 + (boost - 1.0) * chosen
            boosted = tf.stop_gradient(profile * factor)
            squared = tf.reduce_sum(profile**2, axis=1) * tf.reduce_sum(boosted**2, axis=1)
            norms = tf.sqrt(tf.maximum(squared, 1e-30))
            cosine = tf.reduce_sum(profile * boosted, axis=1) / norms
            total = tf.reduce_sum(cosine)
        return tf.convert_to_tensor(tape.gradient(total, x, unconnected_gradients="zero"))
