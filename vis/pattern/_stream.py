"""One streaming pass of per-batch sums over a model copy (private helper of fit and quality).

The user's model is copied (inside the active `tf.distribute` strategy's scope); the copy's
kernel layers record their inputs and the regime layers their outputs during the forward pass, in
thread-local storage (a `MirroredStrategy` traces each replica in its own thread). A per-batch
function turns the recorded tensors into sums; the sums are reduced over replicas and added up
in float64 NumPy arrays, so memory does not depend on the size of the data (the input batches
come from `vis.pattern._data`).

The streamers (model copies and compiled passes) are cached per model, at most
`MAX_STREAMERS_PER_MODEL` each (least recently used dropped first), and freed with the model or
by `release`.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from vis.utils.compiled import compile_function
from vis.utils.model import copy_model, iter_layers

__all__ = ["Streamer", "streamer_for", "release", "MAX_STREAMERS_PER_MODEL"]

MAX_STREAMERS_PER_MODEL = 8


def _recording_call(call, local: threading.local, path: str, record_in: bool, record_out: bool):
    def wrapped(*args, **kwargs):
        rec = local.__dict__.setdefault("rec", {})
        if record_in:
            if (path, "in") in rec:
                raise ValueError(
                    f"Layer {path!r} is called more than once in the model (a shared layer): "
                    "its pattern or regime is ambiguous. vis.pattern needs each kernel layer, "
                    "and each softmax that decides a regime, used once."
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
        pre_paths: Paths of the layers whose pre-activation values to record (`(path, 'pre')`;
            the output itself for a layer without activation).
    """

    def __init__(self, model: keras.Model, input_paths, output_paths, pre_paths=()):
        self.strategy = tf.distribute.get_strategy()
        with self.strategy.scope():
            self.model = copy_model(model)
        self.source = weakref.ref(model)
        self.layers = dict(iter_layers(self.model))
        self._local = threading.local()
        input_paths, pre_paths = set(input_paths), set(pre_paths)
        output_paths = set(output_paths) | pre_paths
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
        # An adapted Normalization layer keeps its mean/variance as constants derived from its
        # variables (`finalize_state`), which assigning the variables does not refresh.
        self._adapted = [layer for _, layer in iter_layers(self.model)
                         if isinstance(layer, keras.layers.Normalization)]
        self._adapted_state = None

    def sync(self) -> None:
        """Copies the user's current weights into the copy (and refreshes adapted layers)."""
        for dst, src in self._pairs:
            dst.assign(src.value)
        if self._adapted:
            state = [np.asarray(v).tobytes() for layer in self._adapted for v in layer.weights]
            if state != self._adapted_state:
                for layer in self._adapted:
                    layer.finalize_state()
                self._functions.clear()  # the constants are captured by the compiled passes
                self._adapted_state = state

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
    values (`(path, 'pre')`, the output itself for layers without activation) of `pre_paths`.
    At most `MAX_STREAMERS_PER_MODEL` streamers are kept per model (least recently used first
    out).
    """
    strategy = tf.distribute.get_strategy()
    key = (tuple(sorted(input_paths)), tuple(sorted(output_paths)), tuple(sorted(pre_paths)),
           strategy)
    per_model = _STREAMERS.setdefault(model, OrderedDict())
    streamer = per_model.pop(key, None)
    if streamer is None:
        streamer = Streamer(model, input_paths, output_paths, pre_paths)
    per_model[key] = streamer  # most recently used last
    while len(per_model) > MAX_STREAMERS_PER_MODEL:
        per_model.popitem(last=False)
    streamer.sync()
    return streamer


def release(model: keras.Model | None = None) -> None:
    """Frees the model copies and compiled passes that `fit_patterns` / `signal_quality` cached.

    They are kept per model (at most 8 per model, least recently used dropped first) so that
    fitting again does not copy the model or retrace, and are freed automatically when the model
    is garbage collected. The copies that the explainers (`PatternNet`, `PatternAttribution`,
    `LRP`) use live in the gradient engine's own cache: free those with
    `vis.engine.release(model)`.

    Args:
        model: The model whose cached copies to free. Defaults to `None` (those of every model).

    Example:
        >>> patterns = fit_patterns(model, x_train, verbose=False)
        >>> vis.pattern.release(model)
    """
    if model is None:
        _STREAMERS.clear()
    else:
        _STREAMERS.pop(model, None)
