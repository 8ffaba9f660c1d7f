"""Explaining a whole dataset: batches streamed in, maps streamed out, O(one batch) memory.

`vis.explain(model, data, method, ...)` with `data` a `tf.data.Dataset` or any iterable of
batches (not an array, which is the in-memory path) explains the batches one at a time:

- without `output_file`: returns a generator of map batches (nothing runs until it is
  iterated);
- `output_file="maps.npy"`: writes one `.npy` file, row `i` the map of the `i`-th input, and
  returns its path; open it with `np.load(path, mmap_mode="r")`. It is written in one pass: the
  number of inputs need not be known in advance (the header is completed at the end, and a
  stream that fails half-way leaves a valid file of the maps written so far);
- `output_file="maps-{shard:05d}.npz"`: writes one `.npz` per batch (or per `shard_size`
  inputs) with the arrays `maps` (`maps_<input name>` for each input of a multi-input model),
  `targets` (the class each map explains) and `index` (the inputs' positions in the stream),
  and returns the paths.

Elements follow Keras' convention: an input batch (an array, or a dict / list of arrays for a
multi-input model), or a tuple `(inputs, labels)` / `(inputs, labels, weights)`. `targets=None`
explains the labels where the elements have them (class indices; a `(N, 1)` column or one-hot
rows are accepted), else each input's predicted class; `targets="predicted"` ignores the labels.
A `tf.data.Dataset` of single samples is batched (`batch_size`, default 64). A tqdm bar shows
the inputs explained per second (`verbose=False` hides it).

Peak memory is one input batch, its maps and the file buffer, whatever the size of the data.
`strategy=` (a `tf.distribute` strategy) splits every batch across the strategy's local
replicas (devices) and gathers the maps in order; under a `MultiWorkerMirroredStrategy` each
worker also takes every `n`-th batch (`n` workers: run the same script on each, with `.npz`
shards, whose numbers are the global batch numbers). On the JAX backend `strategy=` takes a
`keras.distribution.DataParallel` (or a 1-D `jax.sharding.Mesh`; a `DataParallel` set with
`keras.distribution.set_distribution` is used by default): every batch is sharded over the
devices and `jax.jit` runs one share on each. `tf.data` input needs the TensorFlow backend;
plain iterables work on every backend.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

import keras
import numpy as np

from vis import backend as _backend
from vis import inputs as _inputs

__all__ = ["is_stream", "explain_stream", "iterate_batches", "NpyWriter", "run_on_replicas",
           "check_strategy", "JaxDataParallel"]

DEFAULT_DATASET_BATCH = 64


def _is_tf_dataset(data) -> bool:
    import sys

    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(data, tf.data.Dataset)


def is_stream(data) -> bool:
    """Whether `data` is a dataset or an iterable of batches (streamed), not an in-memory batch.

    Arrays, tensors, lists, tuples and dicts are in-memory inputs (a list or tuple is a
    multi-input batch); a `tf.data.Dataset`, a generator, an iterator, a `keras.utils.PyDataset`
    or any other iterable is a stream of batches.

    Example:
        >>> is_stream(x_test), is_stream(iter([x_test[:32], x_test[32:]]))
        (False, True)
    """
    if _is_tf_dataset(data):
        return True
    if isinstance(data, (np.ndarray, list, tuple, dict, str, bytes)) or np.isscalar(data):
        return False
    if hasattr(data, "__array__") or hasattr(data, "shape") and hasattr(data, "dtype"):
        return False  # a tensor of any backend, a DataFrame: one batch
    return isinstance(data, Iterable)


def _split_element(element):
    """`(inputs, labels or None)` from a stream element (Keras' `(x, y[, w])` convention)."""
    if isinstance(element, tuple):
        if len(element) in (2, 3):
            return element[0], element[1]
        if len(element) == 1:
            return element[0], None
    return element, None


def _labels(y, param: str) -> np.ndarray:
    """Class indices from labels: indices, a `(N, 1)` column, or one-hot rows."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2:
        one_hot = np.isin(y, (0, 1)).all() and np.all(y.sum(axis=1) == 1)
        if not one_hot:
            raise ValueError(
                f"`{param}` yields labels of shape {y.shape} that are neither class indices nor "
                "one-hot rows: pass `targets=` (an int, or 'predicted')."
            )
        y = y.argmax(axis=1)
    if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
        y = y.astype("int64")
    return y


def iterate_batches(model, data, batch_size: int | None = None,
                    param: str = "inputs") -> Iterator[tuple[object, object]]:
    """Yields `(inputs, labels or None)` NumPy batches from a dataset or an iterable.

    Args:
        model: The model (to tell an unbatched `tf.data.Dataset` from a batched one).
        data: A `tf.data.Dataset` or an iterable of batches.
        batch_size: The batch size of an unbatched dataset. Defaults to `None` (64).
        param: Name used in error messages. Defaults to `"inputs"`.

    Raises:
        ValueError: For an infinite `tf.data.Dataset`.
    """
    if _is_tf_dataset(data):
        import tensorflow as tf

        if int(data.cardinality()) == tf.data.INFINITE_CARDINALITY:
            raise ValueError(
                f"`{param}` is an infinite tf.data.Dataset (e.g. `.repeat()` without a count): "
                "explain a finite one, e.g. `dataset.take(n)`."
            )
        x_spec, _ = _split_element(data.element_spec)
        specs = _inputs.input_specs(model)
        first = tf.nest.flatten(x_spec)[0] if not isinstance(x_spec, dict) else \
            x_spec.get(specs[0].name, next(iter(x_spec.values())))
        if len(first.shape) == len(specs[0].shape) - 1:  # single samples: batch them
            data = data.batch(batch_size or DEFAULT_DATASET_BATCH)
        iterator = data.as_numpy_iterator()
    else:
        iterator = iter(data)
    for element in iterator:
        yield _split_element(element)


class JaxDataParallel:
    """Data parallelism on the JAX backend: every batch sharded over a 1-D device mesh.

    Made by `check_strategy` from a `keras.distribution.DataParallel` or a `jax.sharding.Mesh`.

    Attributes:
        mesh: The `jax.sharding.Mesh`.
        axis: The name of its axis that splits the batch.
    """

    def __init__(self, mesh, axis: str):
        self.mesh, self.axis = mesh, axis

    @property
    def num_devices(self) -> int:
        """Devices along the batch axis."""
        return int(self.mesh.shape[self.axis])

    def __repr__(self) -> str:
        return f"JaxDataParallel({self.num_devices} devices, axis={self.axis!r})"


def _jax_data_parallel(strategy) -> JaxDataParallel | None:
    """A `JaxDataParallel` of `strategy` (or of the Keras distribution in effect when `None`)."""
    import jax

    if strategy is None:
        strategy = keras.distribution.distribution()
        if not isinstance(strategy, keras.distribution.DataParallel):
            return None
    if isinstance(strategy, JaxDataParallel):
        return strategy
    if isinstance(strategy, keras.distribution.DataParallel):
        return JaxDataParallel(strategy.device_mesh.backend_mesh, strategy.batch_dim_name)
    if isinstance(strategy, jax.sharding.Mesh):
        if len(strategy.axis_names) != 1:
            raise ValueError(
                f"`strategy`: a jax.sharding.Mesh with one axis (the batch) is expected, got axes "
                f"{tuple(strategy.axis_names)}. Use e.g. `Mesh(np.array(jax.devices()), ('batch',))`."
            )
        return JaxDataParallel(strategy, strategy.axis_names[0])
    raise TypeError(
        f"`strategy` must be None, a keras.distribution.DataParallel or a 1-D jax.sharding.Mesh "
        f"on the JAX backend, got {type(strategy).__name__}."
    )


def check_strategy(strategy, jax_data_parallel: bool = False):
    """`strategy` if it is `None` or a `tf.distribute.Strategy` (on the TensorFlow backend).

    With `jax_data_parallel=True`, on the JAX backend, `strategy` may also be a
    `keras.distribution.DataParallel` or a 1-D `jax.sharding.Mesh`, returned as a
    `JaxDataParallel`; `None` then picks up a `DataParallel` set with
    `keras.distribution.set_distribution`.

    Raises:
        ValueError: On another backend.
        TypeError: For anything else.
    """
    if jax_data_parallel and _backend.name() == "jax":
        return _jax_data_parallel(strategy)
    if strategy is None:
        return None
    alternative = "Leave `strategy=None`."
    if jax_data_parallel:
        alternative += (" On the JAX backend, `strategy=keras.distribution.DataParallel()` shards "
                        "the batches over devices.")
    _backend.require("`strategy=` (tf.distribute)", alternative=alternative)
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(f"`strategy` must be a tf.distribute.Strategy or None, got "
                        f"{type(strategy).__name__}.")
    return strategy


def _worker(strategy) -> tuple[int, int]:
    """`(this worker's index, number of workers)` of a multi-worker strategy, else `(0, 1)`."""
    resolver = getattr(strategy, "cluster_resolver", None) if strategy is not None else None
    if resolver is None:
        return 0, 1
    jobs = resolver.cluster_spec().as_dict()
    workers = [(job, i) for job in ("chief", "worker") if job in jobs
               for i in range(len(jobs[job]))]
    me = (resolver.task_type, resolver.task_id)
    if len(workers) < 2 or me not in workers:
        return 0, 1
    return workers.index(me), len(workers)


def run_on_replicas(strategy, fn: Callable, arrays: list, targets):
    """`fn(arrays, targets)` split across the strategy's local replicas, results in order.

    Every replica explains its contiguous share of the batch (in its own thread, under its
    device scope, as `strategy.run` does); the shares' maps are concatenated in order, so the
    result equals `fn(arrays, targets)` on one device. A batch smaller than the number of
    replicas runs on one device.

    Args:
        strategy: A `tf.distribute.Strategy`, a `JaxDataParallel` (the batch sharded over its
            mesh by `jax.jit`) or `None` (one device).
        fn: `fn(arrays, targets) -> list of map batches`.
        arrays: One array per model input.
        targets: One target per sample, or `None` (each replica finds its predicted classes).

    Returns:
        The list of map batches.
    """
    if isinstance(strategy, JaxDataParallel):
        with _backend.get().data_parallel(strategy.mesh, strategy.axis):
            return fn(arrays, targets)
    n = len(arrays[0])
    replicas = 1 if strategy is None else len(strategy.extended.worker_devices)
    if replicas < 2 or n < replicas:
        return fn(arrays, targets)
    import tensorflow as tf

    bounds = [n * i // replicas for i in range(replicas + 1)]

    def replica_fn():
        local = int(tf.distribute.get_replica_context().replica_id_in_sync_group) % replicas
        part = slice(bounds[local], bounds[local + 1])
        return fn([a[part] for a in arrays], None if targets is None else targets[part])

    parts = strategy.experimental_local_results(strategy.run(replica_fn))
    return [np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(len(parts[0]))]


class _Degenerate:
    """Collects the stream positions of all-zero and non-finite maps, for one warning."""

    def __init__(self, what: str):
        self.what = what
        self.zero: list[int] = []
        self.bad: list[int] = []

    def add(self, maps: list, start: int) -> None:
        for m in maps:
            flat = np.asarray(m).reshape(len(m), -1)
            self.bad += (start + np.flatnonzero(~np.isfinite(flat).all(axis=1))).tolist()
            self.zero += (start + np.flatnonzero(~np.any(flat != 0, axis=1))).tolist()

    def warn(self) -> None:
        import warnings

        from vis.errors import NaNMapWarning, ZeroMapWarning

        if self.bad:
            bad = sorted(set(self.bad))
            warnings.warn(f"Method {self.what!r} gave maps with NaN or inf values for "
                          f"{len(bad)} input(s) of the stream, e.g. at {bad[:10]}.",
                          NaNMapWarning, stacklevel=4)
        if self.zero:
            zero = sorted(set(self.zero))
            warnings.warn(f"Method {self.what!r} gave an all-zero map for {len(zero)} input(s) "
                          f"of the stream, e.g. at {zero[:10]} (e.g. dead ReLU units, or a "
                          "target with no active path for this input); returned as zeros.",
                          ZeroMapWarning, stacklevel=4)


class NpyWriter:
    """Writes batches of rows into one `.npy` file without knowing the number of rows first.

    The header is written with room for any row count and completed by `close()` (also after
    an error: the file then holds the rows written so far). Peak memory is one batch.

    Args:
        path: The file to write.

    Example:
        >>> with NpyWriter("maps.npy") as out:
        ...     for maps in batches:
        ...         out.write(maps)
        >>> np.load("maps.npy", mmap_mode="r").shape
    """

    _HEADER = 128  # bytes: magic, version, length and the padded dict (a multiple of 64)

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self.rows = 0
        self._file = None
        self._dtype = None
        self._shape = None

    def _header(self, rows: int) -> bytes:
        from numpy.lib import format as npformat

        text = repr({"descr": npformat.dtype_to_descr(self._dtype), "fortran_order": False,
                     "shape": (rows,) + self._shape})
        size = self._HEADER
        while len(text) + 11 > size:
            size += 64
        body = text.ljust(size - 10 - 1) + "\n"
        return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body.encode("latin1")

    def write(self, rows: np.ndarray) -> None:
        """Appends `rows` (the same dtype and row shape every time)."""
        rows = np.ascontiguousarray(rows)
        if self._file is None:
            self._dtype, self._shape = rows.dtype, tuple(rows.shape[1:])
            self._reserved = len(self._header(10 ** 15))
            parent = os.path.dirname(self.path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            self._file = open(self.path, "wb")  # noqa: SIM115 (closed by close())
            self._file.write(self._header(0).ljust(self._reserved, b" "))
        elif rows.dtype != self._dtype or tuple(rows.shape[1:]) != self._shape:
            raise ValueError(f"Rows of shape {rows.shape[1:]} and dtype {rows.dtype} after rows "
                             f"of shape {self._shape} and dtype {self._dtype}.")
        rows.tofile(self._file)
        self.rows += len(rows)

    def close(self) -> None:
        """Completes the header with the number of rows written, and closes the file."""
        if self._file is None:
            return
        header = self._header(self.rows)
        if len(header) != self._reserved:  # the body is padded to the reserved size
            text = header[10:].decode("latin1").rstrip("\n").rstrip()
            body = text.ljust(self._reserved - 10 - 1) + "\n"
            header = header[:8] + len(body).to_bytes(2, "little") + body.encode("latin1")
        self._file.seek(0)
        self._file.write(header)
        self._file.close()
        self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _output_mode(output_file, shard_size) -> str | None:
    if output_file is None:
        if shard_size is not None:
            raise ValueError("`shard_size` is for `.npz` shards: give `output_file=` too.")
        return None
    if not isinstance(output_file, (str, os.PathLike)):
        raise TypeError(f"`output_file` must be a path (str), got {type(output_file).__name__}.")
    path = os.fspath(output_file)
    if path.endswith(".npy"):
        if shard_size is not None:
            raise ValueError("`shard_size` is for `.npz` shards; a `.npy` file holds every map.")
        return "npy"
    if path.endswith(".npz"):
        try:
            if path.format(shard=0) == path.format(shard=1):
                raise KeyError
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                f"`output_file` {path!r}: `.npz` output is written in shards; name them with a "
                "`{shard}` field, e.g. 'maps-{shard:05d}.npz'."
            ) from None
        if shard_size is not None and (isinstance(shard_size, bool) or not isinstance(
                shard_size, (int, np.integer)) or shard_size < 1):
            raise ValueError(f"`shard_size` must be a positive int or None, got {shard_size!r}.")
        return "npz"
    raise ValueError(f"`output_file` must end in '.npy' or '.npz', got {path!r}.")


def _stream_targets(targets):
    """Per-batch targets from `targets=`: `'labels'` (the data's, else predicted), `'predicted'`,
    an int, or one int per input of the whole stream."""
    if targets is None:
        return "labels", None
    if isinstance(targets, str):
        if targets != "predicted":
            raise ValueError(f"`targets` must be None, 'predicted', an int or one int per input, "
                             f"got {targets!r}.")
        return "predicted", None
    if isinstance(targets, (bool, np.bool_)):
        raise TypeError(f"`targets` must be an int or one int per input, got {targets!r}.")
    if isinstance(targets, (int, np.integer)):
        return "int", int(targets)
    arr = np.asarray(targets)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"`targets` for a stream must be None, 'predicted', an int or a 1-D int "
                        f"array (one per input), got {type(targets).__name__}.")
    return "array", arr


def explain_stream(
    model,
    data,
    explain_batch: Callable,
    targets=None,
    *,
    output_file=None,
    shard_size: int | None = None,
    strategy=None,
    batch_size: int | None = None,
    verbose: bool = True,
    multi_map: bool = False,
    input_names: list[str] | None = None,
    what: str = "explain",
    param: str = "inputs",
):
    """Explains a stream of batches; the engine of `vis.explain` for datasets (see module doc).

    Args:
        model: The model.
        data: A `tf.data.Dataset` or an iterable of batches.
        explain_batch: `explain_batch(arrays, targets, structure) -> list of map batches`:
            the in-memory explanation of one validated batch.
        targets: `None`, `'predicted'`, an int, or one int per input of the stream. Defaults
            to `None`.
        output_file: `None` (a generator), a `.npy` path or a `.npz` shard pattern. Defaults
            to `None`.
        shard_size: Inputs per `.npz` shard. Defaults to `None` (one shard per batch).
        strategy: A `tf.distribute.Strategy` (on JAX: see `check_strategy`). Defaults to `None`.
        batch_size: The batch size of an unbatched `tf.data.Dataset`. Defaults to `None`.
        verbose: Show a tqdm bar of the inputs explained per second. Defaults to `True`.
        multi_map: The maps are one batch per input (a multi-input model). Defaults to `False`.
        input_names: The model's input names (keys of multi-input `.npz` shards).
        what: The method's name, in the warning about all-zero or non-finite maps (one warning
            at the end of the stream, with the inputs' positions in the stream).
        param: Name used in error messages. Defaults to `"inputs"`.

    Returns:
        A generator of map batches, the `.npy` path, or the list of `.npz` paths.

    Raises:
        ValueError: Bad `output_file` / `shard_size` / `targets`, `tf.data` on another backend,
            `.npy` output of several maps per input or of several workers.
        TypeError: Arguments of the wrong type.
    """
    if _is_tf_dataset(data):
        _backend.require("A tf.data.Dataset as `inputs`",
                         alternative="Pass an iterable of NumPy batches instead.")
    mode = _output_mode(output_file, shard_size)
    kind, value = _stream_targets(targets)
    strategy = check_strategy(strategy, jax_data_parallel=True)
    worker, workers = _worker(strategy)
    if mode == "npy" and multi_map:
        raise ValueError("`output_file`: a multi-input model has one map batch per input; write "
                         "`.npz` shards ('maps-{shard:05d}.npz') instead of one `.npy` file.")
    if workers > 1 and (mode == "npy" or shard_size is not None):
        raise ValueError("`output_file`: under a multi-worker strategy each worker writes its "
                         "own batches; write one `.npz` shard per batch ('maps-{shard:05d}.npz', "
                         "numbered by global batch, without `shard_size`).")

    def batches() -> Iterator[tuple[int, int, list, np.ndarray | None, object]]:
        offset = 0
        for k, (x, y) in enumerate(iterate_batches(model, data, batch_size, param)):
            batch = _inputs.prepare(model, x, param)
            n = len(batch)
            start, offset = offset, offset + n
            if k % workers != worker:
                continue
            if kind == "int":
                t = np.full(n, value, dtype="int64")
            elif kind == "array":
                if start + n > len(value):
                    raise ValueError(f"`targets` has {len(value)} entries but the stream has "
                                     f"more inputs ({start + n} so far).")
                t = value[start:start + n]
            elif kind == "labels" and y is not None:
                t = _labels(y, param)
            else:
                t = None
            yield k, start, batch, t

    def explained() -> Iterator[tuple[int, int, list, np.ndarray | None, object]]:
        from tqdm.auto import tqdm

        degenerate = _Degenerate(what)
        with tqdm(disable=not verbose, unit="img", desc="vis.explain", leave=False) as bar:
            for k, start, batch, t in batches():
                maps = run_on_replicas(strategy, lambda a, tt, b=batch: explain_batch(a, tt, b),
                                       batch.arrays, t)
                degenerate.add(maps, start)
                bar.update(len(batch))
                yield k, start, batch, t, maps
        degenerate.warn()

    if mode is None:
        def generate():
            for _, _, batch, _, maps in explained():
                yield batch.restore(maps) if multi_map else maps[0]

        return generate()
    if mode == "npy":
        with NpyWriter(output_file) as out:
            for *_, maps in explained():
                out.write(maps[0])
        return os.fspath(output_file)
    return _write_shards(os.fspath(output_file), explained(), shard_size, multi_map,
                         input_names or [])


def _write_shards(pattern: str, explained: Iterator, shard_size: int | None, multi_map: bool,
                  names: list[str]) -> list[str]:
    """Writes `.npz` shards: one per batch (numbered by batch), or of `shard_size` inputs each."""
    paths: list[str] = []

    def save(shard: int, maps: list, targets, index: np.ndarray) -> None:
        path = pattern.format(shard=shard)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        arrays = {(f"maps_{names[i]}" if multi_map and i < len(names) else "maps"): m
                  for i, m in enumerate(maps)}
        if targets is not None:
            arrays["targets"] = targets
        arrays["index"] = index
        np.savez(path, **arrays)
        paths.append(path)

    if shard_size is None:
        for k, start, _, t, maps in explained:
            save(k, maps, t, np.arange(start, start + len(maps[0])))
        return paths
    pending: list[tuple[list, np.ndarray | None, np.ndarray]] = []
    count = 0

    def take(rows: int):
        """The first `rows` pending rows, removed from `pending`."""
        nonlocal count
        got, need = [], rows
        while need:
            maps, t, index = pending[0]
            m = len(index)
            if m <= need:
                got.append(pending.pop(0))
                need -= m
            else:
                got.append(([a[:need] for a in maps], None if t is None else t[:need],
                            index[:need]))
                pending[0] = ([a[need:] for a in maps], None if t is None else t[need:],
                              index[need:])
                need = 0
        count -= rows
        maps = [np.concatenate([g[0][i] for g in got]) for i in range(len(got[0][0]))]
        targets = None if any(g[1] is None for g in got) else np.concatenate([g[1] for g in got])
        return maps, targets, np.concatenate([g[2] for g in got])

    for _, start, _, t, maps in explained:
        pending.append((maps, t, np.arange(start, start + len(maps[0]))))
        count += len(maps[0])
        while count >= shard_size:
            save(len(paths), *take(shard_size))
    if count:
        save(len(paths), *take(count))
    return paths


def evaluate_stream(evaluate: Callable, model, data, targets=None, *, methods=None,
                    masks=None, fit_inputs=None, method_options: dict | None = None,
                    batch_size: int | None = None, verbose: bool = False,
                    progress: Callable | None = None, **kwargs):
    """`vis.evaluate` of a stream: batch by batch, the per-input values concatenated.

    Each batch is evaluated as `vis.evaluate` evaluates one batch in memory (the same metrics
    and seed), and only its per-input values and curves are kept: memory is one batch's maps
    plus a few numbers per input. Methods that learn from data (PatternNet) are fitted once,
    before the first batch: on `fit_inputs`, else on the whole `tf.data.Dataset`, else (a
    one-pass iterable) on the first batch. `targets=None` takes the data's labels where the
    elements have them, else each input's predicted class (`'predicted'`: always).

    Args:
        evaluate: `vis.evaluate` (called per batch).
        model: The model.
        data: A `tf.data.Dataset` or an iterable of batches.
        targets: `None`, `'predicted'`, an int, or one int per input. Defaults to `None`.
        methods: As `vis.evaluate`'s. Defaults to `None`.
        masks: Localization masks for every input of the stream, in order (an array; sliced
            per batch). Defaults to `None`.
        fit_inputs: Data to fit PatternNet-like methods on (an array or a `tf.data.Dataset`).
            Defaults to `None`.
        method_options: As `vis.evaluate`'s. Defaults to `None`.
        batch_size: As `vis.evaluate`'s (also the batch size of an unbatched dataset).
        verbose: Show a tqdm bar of the inputs evaluated per second. Defaults to `False`.
        progress: `progress(description, done, total)` after each batch (`total` is `None`: the
            stream's length is not known). Defaults to `None`.
        **kwargs: `vis.evaluate`'s other arguments (`metrics`, `seed`, method options).

    Returns:
        One `vis.metrics.Report` for all inputs.
    """
    from tqdm.auto import tqdm

    from vis import methods as _methods
    from vis.metrics.curve import Curve
    from vis.metrics.report import Report

    if _is_tf_dataset(data):
        _backend.require("A tf.data.Dataset as `inputs`",
                         alternative="Pass an iterable of NumPy batches instead.")
    kind, value = _stream_targets(targets)
    options = {k: dict(v) for k, v in (method_options or {}).items()}
    chosen = methods
    reports, offset, first = [], 0, True
    with tqdm(disable=not verbose, unit="img", desc="vis.evaluate", leave=False) as bar:
        for x, y in iterate_batches(model, data, batch_size):
            batch = _inputs.prepare(model, x, "inputs")
            n = len(batch)
            if first:  # fit the methods that learn from data, once
                first = False
                from vis._evaluate import _resolve_methods, default_methods

                resolved = _resolve_methods(default_methods() if methods is None else methods)
                chosen = list(resolved.values())
                fit_data = fit_inputs if fit_inputs is not None else (
                    data if _is_tf_dataset(data) else batch.value)
                for name, method in resolved.items():
                    given = options.get(name, {})
                    if method.fit is not None and any(given.get(k) is None
                                                       for k in method.requires):
                        options[name] = {**given, **method.fit(model, fit_data,
                                                               batch_size=batch_size)}
            if kind == "int":
                t = value
            elif kind == "array":
                t = value[offset:offset + n]
            elif kind == "labels" and y is not None:
                t = _labels(y, "inputs")
            else:
                t = None
            part_masks = None if masks is None else np.asarray(masks)[offset:offset + n]
            reports.append(evaluate(model, batch.value, t, chosen, masks=part_masks,
                                    method_options={_methods.get(k).name: v
                                                    for k, v in options.items()},
                                    batch_size=batch_size, **kwargs))
            offset += n
            bar.update(n)
            if progress is not None:
                progress(f"{offset} inputs", len(reports), None)
    if not reports:
        raise ValueError("`inputs` yielded no batch.")
    head = reports[0]
    errors = {}
    for r in reports:
        errors.update({m: e for m, e in r.errors.items() if m not in errors})
    values = {m: {k: np.concatenate([r.values[m][k] for r in reports]) for k in head.metrics}
              for m in head.methods if m not in errors}
    curves = {m: {k: Curve(c.kind, np.concatenate([r.curves[m][k].scores for r in reports]),
                           c.fractions, c.score)
                  for k, c in head.curves[m].items()}
              for m in values}
    return Report(methods=head.methods, metrics=head.metrics, values=values, curves=curves,
                  higher_is_better=head.higher_is_better, errors=errors, n=offset,
                  seed=head.seed, control=head.control, descriptions=head.descriptions)
