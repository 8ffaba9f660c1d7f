"""`vis.explain`: one call for every registered attribution method."""

from __future__ import annotations

import keras
import numpy as np

from vis import engine, methods, streaming
from vis import inputs as _inputs
from vis.errors import warn_if_degenerate
from vis.methods import gradient as _gradient
from vis.utils import checks

__all__ = ["explain"]


def explain(
    model: keras.Model,
    inputs,
    method=methods.DEFAULT,
    targets=None,
    *,
    output=-1,
    layer=None,
    smooth=None,
    batch_size: int | None = None,
    keepdims: bool = False,
    jit_compile: bool | None = None,
    strategy=None,
    output_file=None,
    shard_size: int | None = None,
    **options,
):
    """Explains `model`'s decision on `inputs` with any registered method.

    The one front door of vis (Captum's `attribute`, xplique's `explain`): the map of each
    sample explains the *pre-softmax* score of its target class (or unit) of the `output`
    layer. Maps are raw and signed (no absolute value, no normalization; see
    `vis.methods.get(method).signed`), shaped like the input (the CAM family: like the input's
    spatial axes). A multi-input model gets one map per input, in the structure of `inputs`;
    a perturbation method gives `None` for an input that it does not perturb (its `input=`
    option: e.g. occlusion perturbs inputs with spatial axes, not a table of features).
    Integer inputs (token ids) are explained through the Embedding they feed: one value per
    token (the embedding axis reduced as `vis.methods.get(method).token_reduction` says), or
    the `(N, T, D)` maps with `keepdims=True`. The user's model is never modified.

    `inputs` may also be a whole dataset: a `tf.data.Dataset` (of inputs or `(inputs,
    labels)`) or any iterable of batches. The batches are explained one at a time, in O(one
    batch) memory, and the maps come back as a generator of batches, or are written to
    `output_file` (see `vis.streaming`): `targets=None` then explains the data's labels where
    it has them (`'predicted'`: the predicted classes), and `verbose=False` hides the progress
    bar.

    Args:
        model: A built Keras model (Functional, Sequential or subclassed). Never modified.
        inputs: One sample (no batch axis) or a batch; for a multi-input model a list, tuple or
            dict (keyed by input name) of them. Or a dataset / iterable of batches (above).
        method: A registered name or alias (see `vis.methods.names()` or `vis methods`), a
            `vis.methods.Method`, or a callable `(model, inputs, targets, **options) -> maps`.
            Defaults to `vis.methods.DEFAULT` (`"gradient"`).
        targets: `None` (each sample's predicted class: the arg-max of the output's score), an
            int (that class for every sample) or one int per sample. Defaults to `None`.
        output: The layer whose score is explained (index, name, nested path or layer); a
            softmax layer is explained on its logits. Defaults to `-1` (the last layer).
        layer: Where a method works, e.g. the convolutional layer of the CAM family. Defaults
            to `None` (the method's default).
        smooth: A noise tunnel over the method (Captum's `NoiseTunnel`): `True`, or a dict
            `{"samples": 50, "noise": 0.15, "seed": 0, "kind": "mean" | "square" | "var"}`.
            Defaults to `None` (no smoothing).
        batch_size: The most samples (noisy copies, path points) per compiled call. Defaults to
            `None` (chosen by the method).
        keepdims: For token inputs, keep the embedding axis. Defaults to `False`.
        jit_compile: Compile the passes with XLA (`tf.function(jit_compile=True)`, see
            `vis.engine.options`); often slower on CPUs, measure (`benchmarks/saliency.py`).
            Defaults to `None` (no XLA on TensorFlow).
        strategy: A `tf.distribute` strategy: every batch is split across its replicas
            (devices) and the maps gathered in order (see `vis.streaming.run_on_replicas`).
            On the JAX backend, a `keras.distribution.DataParallel` (or a 1-D
            `jax.sharding.Mesh`): every batch is sharded over its devices. Defaults to `None`
            (one device; on JAX, the `DataParallel` of `keras.distribution.set_distribution`).
        output_file: For a dataset: write the maps to this `.npy` file, or to `.npz` shards
            named by a pattern with a `{shard}` field (`"maps-{shard:05d}.npz"`), and return
            the path(s). Defaults to `None` (a generator of map batches).
        shard_size: For `.npz` output: inputs per shard. Defaults to `None` (one shard per
            batch).
        **options: The method's own options, e.g. `steps=` and `baseline=` for
            `integrated_gradients`, `patterns=` for `patternnet` (see
            `vis.methods.get(method).options()`).

    Returns:
        The maps: a batch `(N, ...)`, or one map for one sample; for a multi-input model, the
        structure of `inputs` (`None` for an input that a perturbation method did not perturb).
        For a dataset: a generator of map batches, or the written path(s).

    Raises:
        ValueError: Bad input shape or values, unknown method or layer, target out of range,
            invalid options or smoothing settings, a method that needs fitted options (e.g.
            `patterns=` for `patternnet`), no gradient path, or `output_file` / `shard_size`
            for in-memory inputs.
        TypeError: Arguments of the wrong type, or an option the method does not take.

    Example:
        >>> import vis
        >>> grads = vis.explain(model, x_test[:8], "gradient")          # predicted classes
        >>> ig = vis.explain(model, x_test[:8], "ig", y_test[:8], steps=64)
        >>> cam = vis.explain(model, x_test[0], "gradcam", 3, layer="conv2")
        >>> sg = vis.explain(model, x_test[:8], "guided_backprop", smooth={"samples": 20})
        >>> path = vis.explain(model, dataset, output_file="maps.npy")  # a tf.data.Dataset
    """
    method = methods.get(method)
    settings = methods.check_smooth(smooth)
    batch_size = engine.check_batch_size(batch_size)
    keepdims = checks.boolean(keepdims, "keepdims")
    jit = engine.jit_default(jit_compile)
    strategy = streaming.check_strategy(strategy, jax_data_parallel=True)

    def explain_batch(arrays: list, t) -> list:
        x = arrays[0] if len(arrays) == 1 else list(arrays)
        with engine.options(jit_compile=jit):
            maps = _maps(model, x, method, t, output, layer, settings, batch_size, dict(options))
        return _check_maps(maps, method, len(arrays[0]), len(arrays))

    if streaming.is_stream(inputs):
        _check_output(model, output)
        verbose = options.pop("verbose", True)
        specs = _inputs.input_specs(model)
        return streaming.explain_stream(
            model, inputs,
            lambda arrays, t, batch: _finish(explain_batch(arrays, t), method, arrays, keepdims,
                                             batch, quiet=True),
            targets, output_file=output_file, shard_size=shard_size, strategy=strategy,
            batch_size=batch_size, verbose=checks.verbose(verbose),
            multi_map=method.output != "spatial" and len(specs) > 1,
            input_names=[s.name for s in specs], what=method.name)
    for name, value in (("output_file", output_file), ("shard_size", shard_size)):
        if value is not None:
            raise ValueError(
                f"`{name}` is for datasets (a tf.data.Dataset or an iterable of batches); "
                "`inputs` is one batch in memory. Pass e.g. `iter(batches)` to stream it."
            )
    batch = _inputs.prepare(model, inputs, "inputs")
    _check_output(model, output)
    if targets is not None and strategy is not None:  # one per sample, to split
        targets = methods.resolve_targets(model, batch.value, targets, output=output,
                                          batch_size=batch_size)
    maps = streaming.run_on_replicas(strategy, explain_batch, batch.arrays, targets)
    maps = _finish(maps, method, batch.arrays, keepdims, batch)
    if method.output == "spatial" or len(maps) == 1:
        return maps[0][0] if batch.single else maps[0]
    return batch.restore(maps)


def _maps(model, x, method, targets, output, layer, settings, batch_size, options):
    """The raw maps of one validated batch `x` (an array, or a list for a multi-input model)."""
    if targets is None and settings is None and layer is None and not options \
            and method.raw is _gradient.raw:  # the default: arg-max found in the gradient pass
        maps = _gradient.predicted(model, x, output=output, batch_size=batch_size)
        if maps is not None:
            return maps
    t = methods.resolve_targets(model, x, targets, output=output, batch_size=batch_size)
    if layer is not None:
        options["layer"] = layer
    if output != -1:
        options["output"] = output
    if settings is None:
        return method(model, x, t, batch_size=batch_size, **options)
    return methods.noise_tunnel(method, model, x, t, batch_size=batch_size,
                                method_options=options, settings_name="smooth", **settings)


def _finish(maps: list, method, arrays, keepdims: bool, batch, quiet: bool = False) -> list:
    """Token maps reduced, degenerate maps warned about; one map batch per input (or one)."""
    if method.output == "spatial" or len(maps) == 1:
        maps = [_reduce_tokens(maps[0], arrays[0], method, keepdims)]
        if not quiet:
            warn_if_degenerate(maps[0], method.name, stacklevel=4)
        return maps
    maps = [None if m is None else _reduce_tokens(m, a, method, keepdims)
            for m, a in zip(maps, arrays)]
    if not quiet:
        for k, m in enumerate(maps):
            if m is not None:
                warn_if_degenerate(m, method.name, stacklevel=4,
                                   where=f" of input {batch.specs[k].name!r}")
    return maps


def _check_output(model, output) -> None:
    """A multi-output model's explained output must be named: `-1` would pick a layer silently."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return
    if outputs and len(outputs) > 1 and isinstance(output, (int, np.integer)) and output == -1:
        names = [getattr(getattr(t, "_keras_history", None), "operation", None) for t in outputs]
        names = [getattr(n, "name", "?") for n in names]
        raise ValueError(
            f"`output`: the model has {len(outputs)} outputs {names}; name the one to explain, "
            f"e.g. `output={names[0]!r}`."
        )


def _reduce_tokens(maps: np.ndarray, x: np.ndarray, method, keepdims: bool) -> np.ndarray:
    """`(N, T, D)` maps of a token input `(N, T)` reduced over the embedding axis."""
    if keepdims or x.dtype.kind not in "iub" or maps.ndim != x.ndim + 1:
        return maps
    if method.token_reduction == "max_abs":
        return np.abs(maps).max(axis=-1)
    return maps.sum(axis=-1)


def _check_maps(maps, method, n: int, n_inputs: int) -> list[np.ndarray | None]:
    """The method's maps as a list (one per input, or one spatial map), checked.

    For a multi-input model, a method may return `None` for an input it does not attribute
    (a perturbation method's input that it did not perturb), but not for all of them.
    """
    parts = list(maps) if isinstance(maps, (list, tuple)) else [maps]
    expected = 1 if method.output == "spatial" else n_inputs
    if len(parts) != expected and not (method.output == "input" and len(parts) == 1):
        raise ValueError(
            f"Method {method.name!r} returned {len(parts)} maps for a model with "
            f"{n_inputs} inputs; expected {expected}."
        )
    if any(part is None for part in parts) and (len(parts) < 2 or all(p is None for p in parts)):
        raise ValueError(f"Method {method.name!r} returned no map (None).")
    out = []
    for part in parts:
        if part is None:
            out.append(None)
            continue
        part = np.asarray(part)
        if part.ndim < 2 or len(part) != n:
            raise ValueError(
                f"Method {method.name!r} returned maps of shape {part.shape} for {n} "
                "samples; expected one map per sample, shape (N, ...)."
            )
        if not np.issubdtype(part.dtype, np.number):
            raise TypeError(f"Method {method.name!r} returned maps of dtype {part.dtype}.")
        out.append(part)
    return out
