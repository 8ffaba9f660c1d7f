"""One streaming pass of per-batch sums over a model copy (private helper of fit and quality).

The pass runs a `vis.copies.ModelCopy` of the user's model on the user's current weights (its
`forward`, `keras.Model.stateless_call`: nothing is copied per pass, and a model trained or
re-adapted since is seen as it is now). The copy's taps record, in thread-local storage (a
`MirroredStrategy` traces each replica in its own thread), the inputs of the kernel layers and
the outputs / pre-activation values of the regime layers. A per-batch function turns the
recorded tensors into sums; the sums are reduced over replicas and added up in float64 NumPy
arrays, so memory does not depend on the size of the data (the input batches come from
`vis.pattern._data`).

Backends: on TensorFlow the step is a `tf.function` over a `tf.data` pipeline, distributed by
the strategy in scope. On JAX and PyTorch it is the backend seam's compiled stateful function
(`vis.backend`: `jax.jit` / eager PyTorch) over NumPy batches, run inside `vis.backend.float64()`
(the float64 sums stay float64 on JAX); the per-batch function reads the user's kernels, which a
`keras.StatelessScope` maps to the values passed to the compiled function.

The streamers (model copy and compiled passes) are kept in the one per-model cache of
`vis.copies` (key `("pattern", taps..., strategy)`), bounded, least recently used dropped first,
and freed with the model or by `vis.release` (alias `vis.pattern.release`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import keras
import numpy as np
from tqdm.auto import tqdm

from vis import backend as _backend
from vis import copies
from vis.copies import INPUT, PRE, ModelCopy, release
from vis.utils.model import iter_layers

__all__ = ["Streamer", "streamer_for", "release"]


class Streamer:
    """Streams per-batch sums of the recorded inputs, outputs and pre-activations of layers.

    The `ModelCopy` is made once (inside the active distribution strategy's scope) and runs on
    the user's current variables; the per-batch functions are compiled once per
    `(key, input spec)` and reused, so repeated passes do not retrace.

    Args:
        model: The user's model (never modified).
        input_paths: Paths of the layers whose inputs to record (`(path, 'in')`).
        output_paths: Paths of the layers whose outputs to record (`(path, 'out')`).
        pre_paths: Paths of the layers whose pre-activation values to record (`(path, 'pre')`;
            the output itself for a layer without activation).

    Raises:
        ValueError: (when a pass is traced) If a recorded layer is called more than once.
    """

    def __init__(self, model: keras.Model, input_paths, output_paths, pre_paths=()):
        self.strategy = _strategy()
        if self.strategy is None:
            self.copy = ModelCopy(model)
        else:
            with self.strategy.scope():
                self.copy = ModelCopy(model)
        self.source = weakref.ref(model)
        self._inputs = sorted(set(input_paths))
        self._pre = sorted(set(pre_paths))
        self._outputs = sorted(set(output_paths) | set(pre_paths))
        self._functions: dict = {}

    @property
    def layers(self) -> dict:
        """`{path: layer}` of the *user's* model: the per-batch functions read their kernels
        (the variables the copy runs on), never change them."""
        source = self.source()
        if source is None:
            raise ReferenceError("The model of this streamer has been garbage collected.")
        return dict(iter_layers(source))

    def forward(self, x, values=None) -> dict:
        """Runs the copy on `x` (the user's weights); returns `{(path, 'in'|'out'|'pre'): tensor}`.

        Call it inside a compiled function: the user's variables are read there (or `values`,
        the `(trainable, non_trainable)` values the compiled function was given).

        Raises:
            ValueError: If a recorded layer is called more than once (a shared layer).
        """
        copy = self.copy
        if values is None:
            trainable, non_trainable = copy.variables()
            values = ([v.value for v in trainable], [v.value for v in non_trainable])
        _, rec = copy.forward(values, x)
        shared = set(rec["__shared__"]) & set(self._inputs + self._outputs)
        if shared:
            raise ValueError(
                f"Layer {sorted(shared)[0]!r} is called more than once in the model (a shared "
                "layer): its pattern or regime is ambiguous. vis.pattern needs each kernel "
                "layer, and each softmax that decides a regime, used once."
            )
        out = {(path, "in"): rec[path + INPUT] for path in self._inputs}
        out.update({(path, "out"): rec[path] for path in self._outputs})
        # no activation: the output is the pre-activation value
        out.update({(path, "pre"): rec.get(path + PRE, rec[path]) for path in self._pre})
        return out

    def _step(self, key, element_spec, extra_spec, batch_fn, distributed: bool):
        cache_key = (key, distributed, repr(element_spec), repr(extra_spec))
        fn = self._functions.get(cache_key)
        if fn is not None:
            return fn
        if self.strategy is None:
            fn = self._portable_step(batch_fn)
        else:
            fn = self._tensorflow_step(batch_fn, element_spec, extra_spec, distributed)
        self._functions[cache_key] = fn
        return fn

    def _tensorflow_step(self, batch_fn, element_spec, extra_spec, distributed: bool):
        import tensorflow as tf

        from vis.utils.compiled import compile_function

        _backend.get()  # loaded before tracing (the per-batch functions use it)
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

            return compile_function(distributed_fn, [element_spec, extra_spec])
        return compile_function(replica_fn, [element_spec, extra_spec])

    def _portable_step(self, batch_fn):
        """`step(batch, extra)`: the backend seam's compiled function on the user's values."""
        copy = self.copy

        def step(values, x, extra):
            trainable, non_trainable = copy.variables()
            mapping = list(zip(trainable + non_trainable, list(values[0]) + list(values[1])))
            # the per-batch function reads the user's kernels: map them to the passed values
            with keras.StatelessScope(state_mapping=mapping):
                return batch_fn(self.forward(x, values), extra)

        return _backend.get().stateful(step, copy.variables)

    def _numpy(self, structure) -> dict:
        return keras.tree.map_structure(
            lambda v: np.asarray(_backend.to_numpy(v), dtype="float64"), structure)

    def run(
        self,
        dataset,
        n_batches: int | None,
        batch_fn: Callable[[dict, dict], dict],
        key: str,
        extra: dict,
        verbose: bool = True,
        desc: str = "vis.pattern",
    ) -> dict:
        """Sums `batch_fn(forward(batch), extra)` over `dataset` in float64 NumPy arrays.

        `batch_fn` is compiled once per `key` and input spec; `extra` (a nested dict of tensors,
        e.g. the shifts) is passed at run time. `dataset` is a `tf.data.Dataset` on TensorFlow,
        an iterable of NumPy batches on the other backends.

        Returns:
            The nested structure returned by `batch_fn`, with float64 NumPy sums.
        """
        if self.strategy is None:
            return self._run_portable(dataset, n_batches, batch_fn, key, extra, verbose, desc)
        import tensorflow as tf

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

    def _run_portable(self, batches, n_batches, batch_fn, key, extra, verbose, desc) -> dict:
        step = self._step(key, None, None, batch_fn, True)
        total = None
        with _backend.float64(), tqdm(total=n_batches, desc=desc, disable=not verbose,
                                      leave=False) as bar:
            for batch in batches:
                sums = self._numpy(step(batch, extra))
                total = sums if total is None else keras.tree.map_structure(np.add, total, sums)
                bar.update(1)
        if total is None:
            raise ValueError("`data` yielded no batch.")
        return total

    def first_batch(self, dataset, batch_fn: Callable[[dict, dict], dict], key: str) -> dict:
        """`batch_fn(forward(first batch), {})` as float64 NumPy arrays (on one device)."""
        if self.strategy is None:
            step = self._step(key, None, None, batch_fn, False)
            with _backend.float64():
                for batch in dataset:
                    return self._numpy(step(batch, {}))
            raise ValueError("`data` yielded no batch.")
        import tensorflow as tf

        step = self._step(key, dataset.element_spec, {}, batch_fn, False)
        for batch in dataset.take(1):
            return tf.nest.map_structure(lambda v: np.asarray(v, dtype="float64"), step(batch, {}))
        raise ValueError("`data` yielded no batch.")


def _strategy():
    """The `tf.distribute` strategy in scope on TensorFlow (the default one outside any scope);
    `None` on the other backends."""
    if _backend.name() != "tensorflow":
        return None
    import tensorflow as tf

    return tf.distribute.get_strategy()


def streamer_for(model: keras.Model, input_paths, output_paths, pre_paths=()) -> Streamer:
    """The cached `Streamer` of `model` for these taps and the active strategy.

    Records the inputs of `input_paths`, the outputs of `output_paths` and the pre-activation
    values (`(path, 'pre')`, the output itself for layers without activation) of `pre_paths`.
    Kept in `vis.copies.cached(model, ("pattern", inputs, outputs, pre, strategy), ...)`.
    """
    strategy = _strategy()
    key = ("pattern", tuple(sorted(input_paths)), tuple(sorted(output_paths)),
           tuple(sorted(pre_paths)), strategy)
    return copies.cached(model, key,
                         lambda: Streamer(model, input_paths, output_paths, pre_paths))
