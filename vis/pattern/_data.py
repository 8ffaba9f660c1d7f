"""Data input of the pattern passes (private): arrays and `tf.data` datasets as input batches.

Arrays are streamed batch by batch from the caller's array (a slice cast to the model's float type
at a time: inside the `tf.data` input pipeline on TensorFlow, by a plain Python iterator of NumPy
batches on JAX and PyTorch), so fitting from a large uint8 array never converts or copies it
whole; float arrays are checked for NaN/inf in chunks. Datasets (TensorFlow backend only) may
yield inputs or `(inputs, labels)` tuples, batched or not; infinite ones need `steps`.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np

from vis import backend as _backend
from vis.utils import checks

__all__ = ["as_dataset", "limit_steps", "split", "is_dataset", "ArrayBatches"]

_CHECK_ROWS_BYTES = 16 * 2 ** 20  # NaN/inf check of float arrays in chunks of about 16 MB


is_dataset = _backend.is_tf_dataset


def _require_tensorflow_for(data, param: str) -> None:
    if is_dataset(data):
        _backend.require(
            f"A tf.data.Dataset as `{param}`",
            alternative="Pass the inputs as a NumPy array (read batch by batch, never copied "
            "whole), e.g. `np.concatenate([x for x, _ in dataset.as_numpy_iterator()])` for a "
            "small dataset, or `steps=` with an array.",
        )


def _input_spec(model: keras.Model) -> tuple[tuple, str]:
    if len(model.inputs) != 1:
        raise ValueError(f"`model` has {len(model.inputs)} inputs; vis explains single-input models.")
    shape = tuple(model.inputs[0].shape)
    dtype = keras.backend.standardize_dtype(model.inputs[0].dtype)
    return shape, dtype if "float" in dtype else "float32"


class ArrayBatches:
    """The batches of an array, cast one at a time (re-iterable; JAX and PyTorch backends).

    Args:
        x: The caller's array (never copied whole).
        batch_size: Samples per batch.
        dtype: The model's float input dtype.
    """

    def __init__(self, x: np.ndarray, batch_size: int, dtype: str):
        self.x, self.batch_size, self.dtype = x, batch_size, dtype

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self) -> Iterator[np.ndarray]:
        for start in range(0, len(self.x), self.batch_size):
            yield self.x[start:start + self.batch_size].astype(self.dtype, copy=False)


def _check_batch_size(batch_size) -> int:
    return checks.positive_int(batch_size, "batch_size")


def _check_steps(steps) -> int | None:
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"`steps` must be None or a positive int (batches to read), got {steps!r}.")
    return int(steps)


def _check_finite_size(data, param: str) -> None:
    import tensorflow as tf

    if int(data.cardinality()) == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            f"`{param}` is an infinite tf.data.Dataset (e.g. `.repeat()` without a count): pass "
            "`steps=` (the number of batches to read) or a finite dataset."
        )


def _dataset_is_batched(data, rank: int, param: str) -> bool:
    import tensorflow as tf

    spec = data.element_spec
    spec = spec[0] if isinstance(spec, (tuple, list)) and spec else spec
    if not isinstance(spec, tf.TensorSpec):
        raise TypeError(
            f"`{param}` must yield input tensors or (inputs, labels) tuples, got elements of "
            f"type {spec!r}."
        )
    if len(spec.shape) not in (rank - 1, rank):
        raise ValueError(
            f"`{param}` yields elements of shape {tuple(spec.shape)}; the model expects samples "
            f"with {rank - 1} axes (batched or not)."
        )
    return len(spec.shape) == rank


def limit_steps(model: keras.Model, data, steps, batch_size: int, param: str = "data"):
    """`data` cut to its first `steps` batches (`None`: unchanged, but finite size checked).

    A batch is an element of a batched dataset, or `batch_size` samples of an array or of an
    unbatched dataset.

    Raises:
        ValueError: If `steps` is not a positive int or `None`, or `data` is an infinite dataset
            and `steps` is `None`.
    """
    steps = _check_steps(steps)
    _require_tensorflow_for(data, param)
    if not is_dataset(data):
        if steps is None:
            return data
        batch_size = _check_batch_size(batch_size)
        return np.asarray(data)[:steps * batch_size]
    if steps is None:
        _check_finite_size(data, param)
        return data
    shape, _ = _input_spec(model)
    batched = _dataset_is_batched(data, len(shape), param)
    return data.take(steps if batched else steps * _check_batch_size(batch_size))


def as_dataset(model: keras.Model, data, batch_size: int, param: str = "data",
               rebatch: bool = False):
    """`(input batches, number of batches or None)` from an array or a `tf.data.Dataset`.

    On TensorFlow the batches are a `tf.data.Dataset`; on JAX and PyTorch an `ArrayBatches`
    (datasets are TensorFlow-only there: a clear `ValueError`). A dataset may yield inputs or
    `(inputs, labels[, weights])` tuples, batched or not (unbatched elements are batched with
    `batch_size`; batched ones too if `rebatch`). An array is read in
    slices of `batch_size` from the caller's memory and cast one batch at a time (it is never
    converted or copied whole); float arrays are checked for NaN/inf in chunks.

    Raises:
        TypeError: If `data` is neither an array nor a dataset, or yields dicts.
        ValueError: If the sample shape does not match the model input, the array is empty or
            not finite, or the dataset is infinite (see `limit_steps`).
    """
    batch_size = _check_batch_size(batch_size)
    shape, dtype = _input_spec(model)
    _require_tensorflow_for(data, param)
    if is_dataset(data):
        import tensorflow as tf

        _check_finite_size(data, param)
        batched = _dataset_is_batched(data, len(shape), param)
        spec = data.element_spec
        if isinstance(spec, (tuple, list)):
            data = data.map(lambda *parts: parts[0])
            spec = spec[0]
        if not batched:
            data = data.batch(batch_size)
            sample = tuple(spec.shape)
        else:
            sample = tuple(spec.shape[1:])
            if rebatch:
                data = data.unbatch().batch(batch_size)
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
    if np.issubdtype(x.dtype, np.inexact):  # integer arrays are always finite
        rows = max(1, _CHECK_ROWS_BYTES // max(1, x[0].nbytes))
        for start in range(0, len(x), rows):
            if not np.isfinite(x[start:start + rows]).all():
                raise ValueError(f"`{param}` contains NaN or inf values.")
    n_batches = -(-len(x) // batch_size)
    if _backend.name() != "tensorflow":
        return ArrayBatches(x, batch_size, dtype), n_batches
    import tensorflow as tf

    np_dtype = tf.as_dtype(dtype).as_numpy_dtype

    def batch(i):  # runs in tf.data: one slice of the caller's array, cast
        start = int(i) * batch_size
        return x[start:start + batch_size].astype(np_dtype, copy=False)

    def load(i):
        out = tf.numpy_function(batch, [i], tf.as_dtype(dtype), stateful=False)
        return tf.ensure_shape(out, (None,) + tuple(x.shape[1:]))

    dataset = tf.data.Dataset.range(n_batches).map(load)
    return dataset, n_batches


def _check_sample_shape(sample: tuple, shape: tuple, param: str) -> None:
    for got, want in zip(sample, shape[1:]):
        if want is not None and got is not None and got != want:
            raise ValueError(
                f"`{param}` has samples of shape {tuple(sample)}, but the model expects {shape[1:]}."
            )


def split(data, holdout: float):
    """Splits `data` into a fitting part (first) and a held-out part (last `holdout` fraction).

    `holdout=0` returns `(data, data)` (in-sample). Datasets are split by elements (batches of a
    batched dataset) with `take` / `skip` and need a known cardinality. The two parts are read in
    two separate passes: a dataset whose order changes between passes (`shuffle(...)` with the
    default `reshuffle_each_iteration=True`, or a non-deterministic source) puts samples of the
    fitting part in the held-out part, which biases rho upwards; the reshuffle flag is not
    visible through tf.data's public API, so it cannot be detected here.

    Raises:
        ValueError: If `holdout` is not in [0, 1) or a part would be empty.
    """
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 <= holdout < 1:
        raise ValueError(f"`holdout` must be a float in [0, 1), got {holdout!r}.")
    if holdout == 0:
        return data, data
    _require_tensorflow_for(data, "data")
    if is_dataset(data):
        _check_finite_size(data, "data")
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
