"""`fit_patterns`: one streaming pass over data to fit PatternNet's signal estimators.

For every Dense and Conv1D/2D/3D layer (the output layer included) the pass collects, per neuron,
the sums the estimators need (see `vis.pattern.estimators`): a Dense layer's input vectors, and
*every input patch* of a convolution (its kernel size, strides, dilation and padding), are the
samples; `y = w^T x` without bias. For a convolution, the sums over patches `sum_p x_p g_p^T` are
computed as filter-gradient convolutions (the gradient of `sum(conv(x, K) * g)` with respect to
`K`, with the layer's own geometry), so patches are never materialised: memory stays that of a
forward/backward pass, and the sums of a batch cost about `k / units` forward passes of the
layer, `k = units + 1` (linear) or `2 units + 1` (two-component; `3 units + 1` with `negative`),
plus one for a layer whose `y` is recomputed (see Precision).

Precision: the products are computed in `dtype` on batch-shifted values and the batch sums are
converted exactly (float64) to raw sums, accumulated over batches in float64 (details in
`vis.pattern._sums`): input channels whose batch mean exceeds twice their standard deviation are
centred with it, `y` is centred with its batch mean, and a layer whose `y` would cancel in
`pre-activation - bias` (a large bias or a large mean of `y` against its spread, judged on the
first batch) has `y` recomputed from its centred input (one more convolution per batch). So
neither large input offsets, nor an unrepresentative first batch, nor a large bias cancel in low
precision. The products are float32 by default (the model's precision), or float64 with
`dtype='float64'` (several times slower on CPUs: TensorFlow's float64 kernels are much slower than
its float32 ones, and consumer GPUs slower still). Measured relative error of float32 against
exact float64 sums (largest entry error / largest entry, per layer): 5e-8 to 5e-7 on the digits CNN
(pixels in [0, 1] or [0, 255]); about 4e-8 on Dense layers with inputs offset by 1000 standard
deviations, a first batch shifted by 50 more, or a bias of 1e5 (the earlier implementation:
1e-5 to 7e-4 there); up to 1e-5 for the negative-regime patterns of ill-conditioned neurons (few
samples in the regime, or `w^T cov[x, y]` small against `|w| |cov[x, y]|`). The error grows with
that conditioning and with the batch size (float32 accumulation inside a batch): use
`dtype='float64'` where patterns must be exact. The reference implementation (iNNvestigate 1.x)
keeps float32 running means.

Memory does not depend on the data size. Under a `tf.distribute` strategy (`strategy=`, or call
`fit_patterns` inside `strategy.scope()`; TensorFlow backend), batches are split across replicas
and the sums reduced: the result is the same up to floating-point rounding. On the JAX and
PyTorch backends the same sums are computed by the backend seam's compiled functions from NumPy
arrays (in float64 where asked, also on JAX); `tf.data` input and `tf.distribute` are
TensorFlow-only. The model copy and the compiled pass are cached per model (in `vis.copies`; the
copy runs on the model's current weights, also after further training or a re-`adapt()`;
`vis.release(model)` frees them), so fitting again does not retrace.
"""

from __future__ import annotations

import keras
import numpy as np

from vis.pattern import _layers
from vis.pattern._data import as_dataset, limit_steps
from vis.pattern._stream import streamer_for
from vis.pattern._sums import FitPlan
from vis.pattern.estimators import LayerStats, estimate, get_estimator
from vis.pattern.patterns import Patterns
from vis.utils import checks

__all__ = ["fit_patterns"]

_DTYPES = ("float64", "float32")


def _check_dtype(dtype) -> str:
    try:
        name = keras.backend.standardize_dtype(dtype)
    except (TypeError, ValueError, AttributeError):
        name = None
    if name not in _DTYPES:
        raise ValueError(f"`dtype` must be 'float64' or 'float32', got {dtype!r}.")
    return name


def collect_stats(model, data, layers, two_component: bool, batch_size: int, verbose: bool,
                  dtype: str = "float32", negative: bool = True,
                  desc: str = "fit_patterns") -> dict[str, LayerStats]:
    """Streams `data` once and returns each layer's `LayerStats` (internal; see `fit_patterns`)."""
    dataset, n_batches = as_dataset(model, data, batch_size)
    plan = FitPlan(model, layers, two_component, dtype, negative)
    streamer = streamer_for(model, *plan.taps())
    if plan.needs_probe:
        plan.set_probe(streamer.first_batch(dataset, plan.probe_fn(streamer),
                                           "probe:float32"))
    sums = streamer.run(dataset, n_batches, plan.batch_fn(streamer), plan.key, {}, verbose, desc)
    result = {}
    for path, layer in layers:
        kernel = _layers.kernel_2d(layer)
        stats = LayerStats(c=np.zeros(kernel.shape[0]), d=np.zeros(kernel.shape[1]))
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
    steps: int | None = None,
    strategy=None,
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

    Softmax: `softmax(z) > 0` always holds, so for a layer whose activation is softmax (fused
    `activation='softmax'`, or a `Softmax` / `Activation('softmax')` layer reached by the search
    for the next activation) the regime is the *pre-softmax* value `> 0`. This is what the
    reference implementation does (it fits on the model without its softmax), and PatternNet
    explains the pre-softmax logit: a softmax-output model and the same model with a linear output
    give the same patterns.

    Statistics stream in one pass with a progress bar: per-batch sums (products in `dtype`, of
    batch-centred values, converted exactly to raw float64 sums) accumulated in float64; memory is
    independent of the data size (an array is read batch by batch, never converted whole) and
    convolution patches are never materialised (filter-gradient convolutions). Inside a
    `tf.distribute` strategy's scope the batches are split across its replicas and the sums
    reduced (same result). The model is never modified: the pass runs on a cached copy (freed
    with the model, or by `vis.release`).

    Preprocessing layers inside the model (`Rescaling`, `Normalization`, and BatchNormalization
    that is not folded) are accepted here — the next kernel layer's patterns are fitted on their
    output — but `PatternNet` / `PatternAttribution` / `LRP` reject them: to explain, apply the
    preprocessing to the data and use the model without those layers.

    Args:
        model: A Keras model with one input (Sequential or Functional, nested models allowed;
            subclassed models are rejected).
        data: Inputs as an array `(n,) + input_shape` (any numeric dtype, e.g. uint8 images; cast
            batch by batch), or (TensorFlow backend) a `tf.data.Dataset` of inputs or of
            `(inputs, labels)` tuples, batched or not.
        estimator: `'two_component'` (alias `'relu'`), `'linear'` or `'filter'`. Defaults to
            `'two_component'`.
        batch_size: Batch size for arrays and unbatched datasets. Defaults to `256`.
        verbose: Show a tqdm progress bar. Defaults to `True`.
        dtype: Precision of the per-batch products, `'float32'` (measured relative error of
            the patterns 5e-8 to 5e-7, up to 1e-5 for ill-conditioned neurons; see the module
            docstring) or `'float64'` (exact up to float64 rounding, several times slower on
            CPU); the sums over batches are float64 either way. Defaults to `'float32'`.
        negative: For `'two_component'`, also fit the negative-regime patterns `a-` (samples
            with output <= 0; a third more work). Defaults to `False`.
        steps: Read only the first `steps` batches of `data` (elements of a batched dataset,
            `batch_size` samples otherwise); required for an infinite dataset
            (`dataset.repeat()`). Defaults to `None` (all of `data`).
        strategy: A `tf.distribute` strategy (e.g. `MirroredStrategy` over GPUs or CPUs,
            `MultiWorkerMirroredStrategy`) to fit under, as if called inside its `scope()`:
            batches are split across its replicas and the sums reduced. Defaults to `None` (the
            strategy in scope, if any).

    Returns:
        A `Patterns` mapping each layer path to a kernel-shaped pattern array.

    Raises:
        ValueError: Unknown estimator, data of the wrong shape / empty / not finite, an infinite
            dataset without `steps`, a bad `steps`, a layer with weights vis cannot fit
            (Conv2DTranspose, DepthwiseConv2D, attention, RNNs, grouped convolutions; the message
            names it), a shared kernel layer, or a model without kernel.
        TypeError: `data` of an unsupported type, or a subclassed model.

    Example:
        >>> patterns = fit_patterns(model, x_train, estimator="two_component")
        >>> sorted(patterns)
        ['conv1', 'conv2', 'dense', 'predictions']
        >>> linear = fit_patterns(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(64),
        ...                       estimator="linear", verbose=False)
        >>> streamed = fit_patterns(model, dataset.repeat(), steps=100, verbose=False)
    """
    if strategy is not None:
        from vis.streaming import check_strategy

        with check_strategy(strategy).scope():
            return fit_patterns(model, data, estimator, batch_size, verbose, dtype, negative,
                                steps)
    estimator = get_estimator(estimator)
    compute_dtype = _check_dtype(dtype)
    verbose = checks.verbose(verbose)
    negative = checks.boolean(negative, "negative")
    _layers.check_model(model)
    layers = _layers.kernel_layers(model)
    stats = {}
    if estimator != "filter":
        data = limit_steps(model, data, steps, batch_size)
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
