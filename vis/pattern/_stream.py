"""One streaming pass of per-batch sums over a model copy (private helper of fit and quality).

The user's model is copied (inside the active `tf.distribute` strategy's scope); the copy's
kernel layers record their inputs and the regime layers their outputs during the forward pass, in
thread-local storage (a `MirroredStrategy` traces each replica in its own thread). A per-batch
function turns the recorded tensors into sums; the sums are reduced over replicas and added up
in float64 NumPy arrays, so memory does not depend on the size of the data.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from vis.utils.compiled import compile_function
from vis.utils.model import copy_model, iter_layers

__all__ = ["as_dataset", "split", "Streamer", "streamer_for"]


def _input_spec(model: keras.Model) -> tuple[tuple, tf.DType]:
    if len(model.inputs) != 1:
        raise ValueError(f"`model` has {len(model.inputs)} inputs; vis explains single-input models.")
    shape = tuple(model.inputs[0].shape)
    dtype = tf.as_dtype(model.inputs[0].dtype)
    return shape, dtype if dtype.is_floating else tf.float32


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int, got {batch_size!r}.")
    return int(batch_size)


def as_dataset(model: keras.Model, data, batch_size: int, param: str = "data",
               rebatch: bool = False):
    """`(dataset of input batches, number of batches or None)` from an array or a `tf.data.Dataset`.

    A dataset may yield inputs or `(inputs, labels[, weights])` tuples, batched or not (unbatched
    elements are batched with `batch_size`; batched ones too if `rebatch`).

    Raises:
        TypeError: If `data` is neither an array nor a dataset, or yields dicts.
        ValueError: If the sample shape does not match the model input, or the array is empty or
            not finite.
    """
    batch_size = _check_batch_size(batch_size)
    shape, dtype = _input_spec(model)
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if isinstance(spec, (tuple, list)):
            data = data.map(lambda *parts: parts[0])
            spec = spec[0]
        if not isinstance(spec, tf.TensorSpec):
            raise TypeError(
                f"`{param}` must yield input tensors or (inputs, labels) tuples, got elements of "
                f"type {spec!r}."
            )
        rank = len(spec.shape)
        if rank == len(shape) - 1:
            data = data.batch(batch_size)
            sample = tuple(spec.shape)
        elif rank == len(shape):
            sample = tuple(spec.shape[1:])
            if rebatch:
                data = data.unbatch().batch(batch_size)
        else:
            raise ValueError(
                f"`{param}` yields elements of shape {tuple(spec.shape)}; the model expects samples "
                f"of shape {shape[1:]} (batched or not)."
            )
        _check_sample_shape(sample, shape, param)
        data = data.map(lambda x: tf.cast(x, dtype))
        card = int(data.cardinality())
        return data, (card if card >= 0 else None)
    try:
        x = np.asarray(data)
    except Exception as exc:
        raise TypeError(f"`{param}` must be an array or a tf.data.Dataset, got {type(data).__name__}.") from exc
    if not np.issubdtype(x.dtype, np.number) or x.ndim != len(shape):
        raise TypeError(
            f"`{param}` must be a numeric array of shape (n,) + {shape[1:]} or a tf.data.Dataset, "
            f"got {type(data).__name__} with shape {x.shape} and dtype {x.dtype}."
        )
    _check_sample_shape(x.shape[1:], shape, param)
    if len(x) == 0:
        raise ValueError(f"`{param}` is empty.")
    x = x.astype(dtype.as_numpy_dtype, copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`{param}` contains NaN or inf values.")
    n_batches = -(-len(x) // batch_size)
    return tf.data.Dataset.from_tensor_slices(x).batch(batch_size), n_batches


def _check_sample_shape(sample: tuple, shape: tuple, param: str) -> None:
    for got, want in zip(sample, shape[1:]):
        if want is not None and got is not None and got != want:
            raise ValueError(
                f"`{param}` has samples of shape {tuple(sample)}, but the model expects {shape[1:]}."
            )


def split(data, holdout: float):
    """Splits `data` into a fitting part (first) and a held-out part (last `holdout` fraction).

    `holdout=0` returns `(data, data)` (in-sample). Datasets are split by batches and need a
    known cardinality.

    Raises:
        ValueError: If `holdout` is not in [0, 1) or a part would be empty.
    """
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 <= holdout < 1:
        raise ValueError(f"`holdout` must be a float in [0, 1), got {holdout!r}.")
    if holdout == 0:
        return data, data
    if isinstance(data, tf.data.Dataset):
        card = int(data.cardinality())
        if card < 0:
            raise ValueError(
                "`data` is a tf.data.Dataset of unknown size: `holdout` cannot split it. Pass "
                "arrays, a dataset with known cardinality, or `patterns=` fitted elsewhere."
            )
        n_fit = int(round(card * (1 - holdout)))
        if not 0 < n_fit < card:
            raise ValueError(
                f"`holdout`={holdout} leaves an empty part of a dataset of {card} elements."
            )
        return data.take(n_fit), data.skip(n_fit)
    x = np.asarray(data)
    n_fit = int(round(len(x) * (1 - holdout)))
    if not 0 < n_fit < len(x):
        raise ValueError(f"`holdout`={holdout} leaves an empty part of {len(x)} samples.")
    return x[:n_fit], x[n_fit:]


def _recording_call(call, local: threading.local, path: str, record_in: bool, record_out: bool):
    def wrapped(*args, **kwargs):
        rec = local.__dict__.setdefault("rec", {})
        if record_in:
            if (path, "in") in rec:
                raise ValueError(
                    f"Layer {path!r} is called more than once in the model (a shared layer): "
                    "its pattern is ambiguous. vis.pattern needs each kernel layer used once."
                )
            rec[(path, "in")] = args[0] if args else kwargs["inputs"]
        out = call(*args, **kwargs)
        if record_out:
            rec[(path, "out")] = out
        return out

    return wrapped


def _recording_activation(activation, local: threading.local, path: str):
    def wrapped(z, *args, **kwargs):
        local.__dict__.setdefault("rec", {})[(path, "pre")] = z
        return activation(z, *args, **kwargs)

    wrapped.__name__ = getattr(activation, "__name__", "activation")
    return wrapped


class Streamer:
    """A copy of `model` that records kernel-layer inputs and regime-layer outputs.

    The copy is made once (inside the active distribution strategy's scope) and re-synchronised
    with the user's weights by `sync()`; the per-batch functions are compiled once per
    `(key, input spec)` and reused, so repeated passes do not retrace.

    Args:
        model: The user's model (never modified).
        input_paths: Paths of the layers whose inputs to record.
        output_paths: Paths of the layers whose outputs to record.
    """

    def __init__(self, model: keras.Model, input_paths, output_paths, pre_paths=()):
        self.strategy = tf.distribute.get_strategy()
        with self.strategy.scope():
            self.model = copy_model(model)
        self.source = weakref.ref(model)
        self.layers = dict(iter_layers(self.model))
        self._local = threading.local()
        input_paths, output_paths = set(input_paths), set(output_paths)
        for path in input_paths | output_paths:
            layer = self.layers[path]
            layer.call = _recording_call(
                layer.call, self._local, path, path in input_paths, path in output_paths
            )
        for path in pre_paths:
            layer = self.layers[path]
            if layer.activation is not None:
                layer.activation = _recording_activation(layer.activation, self._local, path)
        self._pairs = list(zip(self.model.weights, model.weights))
        self._functions: dict = {}

    def sync(self) -> None:
        """Copies the user's current weights into the copy."""
        for dst, src in self._pairs:
            dst.assign(src.value)

    def forward(self, x) -> dict:
        """Runs the copy on `x`; returns `{(path, 'in'|'out'): tensor}` of this thread."""
        self._local.rec = {}
        self.model(x, training=False)
        rec, self._local.rec = self._local.rec, {}
        for (path, kind), value in list(rec.items()):
            if kind == "out" and (path, "pre") not in rec:
                rec[(path, "pre")] = value  # no activation: the output is pre-activation
        return rec

    def _step(self, key, element_spec, extra_spec, batch_fn, distributed: bool):
        cache_key = (key, distributed, repr(element_spec), repr(extra_spec))
        fn = self._functions.get(cache_key)
        if fn is not None:
            return fn
        strategy = self.strategy

        def replica_fn(x, extra):
            return batch_fn(self.forward(x), extra)

        if distributed:
            def distributed_fn(batch, extra):
                per_replica = strategy.run(replica_fn, args=(batch, extra))
                return tf.nest.map_structure(
                    lambda v: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None),
                    per_replica,
                )

            fn = compile_function(distributed_fn, [element_spec, extra_spec])
        else:
            fn = compile_function(replica_fn, [element_spec, extra_spec])
        self._functions[cache_key] = fn
        return fn

    def run(
        self,
        dataset: tf.data.Dataset,
        n_batches: int | None,
        batch_fn: Callable[[dict, dict], dict],
        key: str,
        extra: dict,
        verbose: bool = True,
        desc: str = "vis.pattern",
    ) -> dict:
        """Sums `batch_fn(forward(batch), extra)` over `dataset` in float64 NumPy arrays.

        `batch_fn` is compiled once per `key` and input spec; `extra` (a nested dict of tensors,
        e.g. the shifts) is passed at run time.

        Returns:
            The nested structure returned by `batch_fn`, with float64 NumPy sums.
        """
        dist = self.strategy.experimental_distribute_dataset(dataset)
        extra = tf.nest.map_structure(tf.convert_to_tensor, extra)
        extra_spec = tf.nest.map_structure(tf.TensorSpec.from_tensor, extra)
        step = self._step(key, dist.element_spec, extra_spec, batch_fn, True)
        total = None
        with tqdm(total=n_batches, desc=desc, disable=not verbose, leave=False) as bar:
            for batch in dist:
                sums = tf.nest.map_structure(lambda v: np.asarray(v, dtype="float64"),
                                             step(batch, extra))
                total = sums if total is None else tf.nest.map_structure(np.add, total, sums)
                bar.update(1)
        if total is None:
            raise ValueError("`data` yielded no batch.")
        return total

    def first_batch(self, dataset: tf.data.Dataset, batch_fn: Callable[[dict, dict], dict],
                    key: str) -> dict:
        """`batch_fn(forward(first batch), {})` as float64 NumPy arrays (on one device)."""
        step = self._step(key, dataset.element_spec, {}, batch_fn, False)
        for batch in dataset.take(1):
            return tf.nest.map_structure(lambda v: np.asarray(v, dtype="float64"), step(batch, {}))
        raise ValueError("`data` yielded no batch.")


_STREAMERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def streamer_for(model: keras.Model, input_paths, output_paths, pre_paths=()) -> Streamer:
    """The cached `Streamer` of `model` for these taps and the active strategy, synchronised.

    Records the inputs of `input_paths`, the outputs of `output_paths` and the pre-activation
    outputs (`(path, 'pre')`, the output itself for layers without activation) of `pre_paths`,
    which must also be in `output_paths`.
    """
    strategy = tf.distribute.get_strategy()
    key = (tuple(sorted(input_paths)), tuple(sorted(output_paths)), tuple(sorted(pre_paths)),
           strategy)
    per_model = _STREAMERS.setdefault(model, {})
    streamer = per_model.get(key)
    if streamer is None:
        streamer = Streamer(model, input_paths, output_paths, pre_paths)
        per_model[key] = streamer
    streamer.sync()
    return streamer
