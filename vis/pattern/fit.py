"""`fit_patterns`: one streaming pass over data to fit PatternNet's signal estimators.

For every Dense and Conv1D/2D/3D layer (the output layer included) the pass collects, per neuron,
the sums the estimators need (see `vis.pattern.estimators`): a Dense layer's input vectors, and
*every input patch* of a convolution (its kernel size, strides, dilation and padding), are the
samples; `y = w^T x` without bias. For a convolution, the sums over patches `sum_p x_p g_p^T` are
computed as filter-gradient convolutions (the gradient of `sum(conv(x, K) * g)` with respect to
`K`, with the layer's own geometry), so patches are never materialised: memory stays that of a
forward/backward pass, and the sums of a batch cost about `k / units` forward passes of the
layer, `k = units + 1` (linear) or `2 units + 1` (two-component; `3 units + 1` with `negative`).

Precision: the sums are accumulated over batches in float64. Within a batch the outputs are
shifted, `y - d` (`d` = the first batch's mean), so `E[xy] - E[x]E[y]` does not cancel; the
products are float32 by default (the model's own precision, `y` is the forward pass's own
pre-activation minus the bias; relative error about 1e-6 of the largest pattern entry against
exact sums on the digits CNN), or exact float64 with `dtype='float64'` (several times slower on
CPUs: TensorFlow's float64 kernels are much slower than its float32 ones, and consumer GPUs
slower still). The reference implementation (iNNvestigate 1.x) keeps float32 running means.

Memory does not depend on the data size. Under a `tf.distribute` strategy (call `fit_patterns`
inside `strategy.scope()`), batches are split across replicas and the sums reduced: the result is
the same up to floating-point rounding. The model copy and the compiled pass are cached per model
(weights are re-synchronised on every call), so fitting again does not retrace.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from vis.pattern import _layers
from vis.pattern._stream import Streamer, as_dataset, streamer_for
from vis.pattern.estimators import LayerStats, estimate, get_estimator
from vis.pattern.patterns import Patterns

__all__ = ["fit_patterns"]

_DTYPES = {"float64": tf.float64, "float32": tf.float32}


def _check_dtype(dtype) -> tf.DType:
    name = tf.as_dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _DTYPES:
        raise ValueError(f"`dtype` must be 'float64' or 'float32', got {dtype!r}.")
    return _DTYPES[name]


class _FitPlan:
    """The per-batch sums of one fit pass (compiled once per model copy and configuration)."""

    def __init__(self, model: keras.Model, layers, two_component: bool, dtype: tf.DType,
                 negative: bool):
        self.paths = [path for path, _ in layers]
        self.two_component = two_component
        self.all_samples = negative or not two_component  # sum x y over all samples
        self.dtype = dtype
        self.sources = _layers.mask_sources(model)
        self.key = f"fit:{two_component}:{self.all_samples}:{dtype.name}"

    def output_paths(self) -> set[str]:
        paths = set(self.paths)
        if self.two_component:
            paths |= {self.sources[p] for p in self.paths}
        return paths

    def pre_paths(self) -> set[str]:
        return set(self.paths) if self.dtype == tf.float32 else set()

    def _inputs(self, streamer: Streamer, rec: dict, path: str):
        """`(layer, x, y)`: the layer input and `y = w^T x` in the layer's output layout.

        float32: `y` is the forward's own pre-activation minus the bias; float64: `y` is recomputed
        exactly from the float64 input and kernel.
        """
        layer = streamer.layers[path]
        x = tf.cast(rec[(path, "in")], self.dtype)
        if self.dtype == tf.float32:
            y = tf.cast(rec[(path, "pre")], self.dtype)
            bias = getattr(layer, "bias", None)
            if bias is not None:
                y = y - _layers.unit_vector(layer, tf.cast(tf.convert_to_tensor(bias), self.dtype),
                                            len(y.shape))
        else:
            kernel = tf.cast(tf.convert_to_tensor(layer.kernel), self.dtype)
            y = _layers.linear_op(layer)(x, kernel)
        return layer, x, y

    def shift_fn(self, streamer: Streamer):
        def fn(rec, extra):
            out = {}
            for path in self.paths:
                layer, _, y = self._inputs(streamer, rec, path)
                out[path] = tf.cast(tf.reduce_mean(_layers.to_rows(layer, y), 0), tf.float64)
            return out

        return fn

    def batch_fn(self, streamer: Streamer):
        def fn(rec, shifts):
            out = {}
            for path in self.paths:
                layer, x, y = self._inputs(streamer, rec, path)
                axis = _layers.channel_axis_of(layer)
                yc = y - _layers.unit_vector(layer, tf.cast(shifts[path], self.dtype), len(y.shape))
                units = yc.shape[axis]
                cols = [tf.ones_like(tf.gather(yc, [0], axis=axis))]
                if self.all_samples:
                    cols.append(yc)
                if self.two_component:
                    src = tf.reshape(rec[(self.sources[path], "out")], tf.shape(y))
                    m = tf.cast(src > 0, self.dtype)
                    cols += [m, yc * m]
                xtg = tf.cast(_layers.patch_products(layer, x, tf.concat(cols, axis)), tf.float64)
                rows = _layers.to_rows
                stats = {
                    "n": tf.cast(tf.size(yc) // units, tf.float64),
                    "sx": xtg[:, 0],
                    "sy": tf.cast(tf.reduce_sum(rows(layer, yc), 0), tf.float64),
                }
                start = 1
                if self.all_samples:
                    stats["sxy"] = xtg[:, 1:1 + units]
                    start += units
                if self.two_component:
                    stats.update({
                        "n_pos": tf.cast(tf.reduce_sum(rows(layer, m), 0), tf.float64),
                        "bx_pos": xtg[:, start:start + units],
                        "axy_pos": xtg[:, start + units:],
                        "cy_pos": tf.cast(tf.reduce_sum(rows(layer, yc * m), 0), tf.float64),
                    })
                out[path] = stats
            return out

        return fn


def collect_stats(model, data, layers, two_component: bool, batch_size: int, verbose: bool,
                  dtype=tf.float32, negative: bool = True,
                  desc: str = "fit_patterns") -> dict[str, LayerStats]:
    """Streams `data` once and returns each layer's `LayerStats` (internal; see `fit_patterns`)."""
    dataset, n_batches = as_dataset(model, data, batch_size)
    plan = _FitPlan(model, layers, two_component, dtype, negative)
    streamer = streamer_for(model, plan.paths, plan.output_paths(), plan.pre_paths())
    shifts = streamer.first_batch(dataset, plan.shift_fn(streamer), "shift:" + plan.key)
    sums = streamer.run(dataset, n_batches, plan.batch_fn(streamer), plan.key, shifts, verbose,
                        desc)
    result = {}
    for path, layer in layers:
        stats = LayerStats(c=np.zeros(_layers.kernel_2d(layer).shape[0]), d=shifts[path])
        stats.add(sums[path])
        result[path] = stats
    return result


def fit_patterns(
    model: keras.Model,
    data,
    estimator: str = "two_component",
    batch_size: int = 256,
    verbose: bool = True,
    dtype: str = "float32",
    negative: bool = False,
) -> Patterns:
    """Fits PatternNet's signal estimator for every Dense and Conv1D/2D/3D layer of `model`.

    One pass over `data` (the output layer included): a Dense layer's input vectors and every
    input patch of a convolution (same kernel size, strides, dilation and padding) are the samples,
    `y = w^T x` without bias. Estimators (Kindermans et al. 2018, https://arxiv.org/abs/1705.05598):
    `'filter'` (`a = w / w^T w`; needs no data, `data` is not read), `'linear'`
    (`a = cov[x, y] / w^T cov[x, y]`) and `'two_component'` / `'relu'` (the reference
    implementation's ReLU pattern: `E+[x y] - E+[x] E[y]` over the samples whose layer output — with
    bias, after the activation, or after the next activation layer for a linear layer — is positive,
    `E[y]` over all samples; with `negative=True` also the negative-regime patterns, in
    `Patterns.negative`, which `signal_quality(patterns=...)` needs). Every
    pattern satisfies `w^T a = 1`; a zero denominator leaves a finite pattern (zero for a neuron that
    is never active). See `vis.pattern.estimators`.

    Statistics stream in one pass with a progress bar: per-batch sums (products in `dtype`, of
    mean-shifted outputs) accumulated in float64; memory is independent of the data size and
    convolution patches are never materialised (filter-gradient convolutions). Inside a `tf.distribute` strategy's scope the
    batches are split across its replicas and the sums reduced (same result). The model is never
    modified: the pass runs on a copy.

    Args:
        model: A Keras model with one input (Sequential or Functional, nested models allowed).
        data: Inputs as an array `(n,) + input_shape`, or a `tf.data.Dataset` of inputs or of
            `(inputs, labels)` tuples, batched or not.
        estimator: `'two_component'` (alias `'relu'`), `'linear'` or `'filter'`. Defaults to
            `'two_component'`.
        batch_size: Batch size for arrays and unbatched datasets. Defaults to `256`.
        verbose: Show a tqdm progress bar. Defaults to `True`.
        dtype: Precision of the per-batch products, `'float32'` (relative
            error about 1e-6) or `'float64'` (exact, several times slower on CPU); the sums over
            batches are float64 either way. Defaults to `'float32'`.
        negative: For `'two_component'`, also fit the negative-regime patterns `a-` (samples
            with output <= 0; a third more work). Defaults to `False`.

    Returns:
        A `Patterns` mapping each layer path to a kernel-shaped pattern array.

    Raises:
        ValueError: Unknown estimator, data of the wrong shape / empty / not finite, a layer with
            weights vis cannot fit (Conv2DTranspose, DepthwiseConv2D, attention, RNNs, grouped
            convolutions; the message names it), a shared kernel layer, or a model without kernel.
        TypeError: `data` of an unsupported type.

    Example:
        >>> patterns = fit_patterns(model, x_train, estimator="two_component")
        >>> sorted(patterns)
        ['conv1', 'conv2', 'dense', 'predictions']
        >>> linear = fit_patterns(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(64),
        ...                       estimator="linear", verbose=False)
    """
    estimator = get_estimator(estimator)
    compute_dtype = _check_dtype(dtype)
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    layers = _layers.kernel_layers(model)
    stats = {}
    if estimator != "filter":
        stats = collect_stats(model, data, layers, estimator == "two_component", batch_size,
                              bool(verbose), compute_dtype, bool(negative))
    positive, negatives = {}, {}
    for path, layer in layers:
        shape = tuple(layer.kernel.shape)
        pos, neg = estimate(estimator, _layers.kernel_2d(layer), stats.get(path), bool(negative))
        if not (np.all(np.isfinite(pos)) and (neg is None or np.all(np.isfinite(neg)))):
            raise ValueError(
                f"The statistics of layer {path!r} are not finite: the model produces NaN or inf "
                "values on `data`."
            )
        positive[path] = pos.reshape(shape)
        if neg is not None:
            negatives[path] = neg.reshape(shape)
    return Patterns(positive, estimator, negatives or None)
