"""Validation of images and labels, and iteration over arrays (or, on TensorFlow, a
`tf.data.Dataset`) in batches."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from vis import backend as _backend
from vis.utils import checks

__all__ = ["image_array", "cast_images", "check_images", "check_labels", "check_batch_size",
           "iterate_batches", "dataset_size"]


def image_array(x, input_shape: tuple, name: str = "x") -> np.ndarray:
    """Checks the type and shape of a batch of model inputs without copying or casting it.

    Raises:
        ValueError: On a shape that does not fit the model input.
        TypeError: On non-numeric data.
    """
    try:
        array = np.asarray(x)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`{name}` must be an array of images, received {type(x).__name__}.") from error
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"`{name}` must be numeric; received dtype {array.dtype}.")
    expected = (None, *input_shape)
    fits = array.ndim == len(expected) and all(
        e is None or int(e) == int(a) for e, a in zip(expected[1:], array.shape[1:])
    )
    if not fits:
        hint = " Add a batch axis, e.g. `x[None]`." if array.ndim == len(input_shape) else ""
        raise ValueError(
            f"`{name}` must have shape (batch, {', '.join(str(d) for d in input_shape)}) to fit "
            f"the model input; received shape {array.shape}.{hint}"
        )
    return array


def cast_images(batch: np.ndarray, dtype: str, name: str = "x", offset: int = 0) -> np.ndarray:
    """Casts a (shape-checked) batch to the model's dtype and checks that it is finite.

    Args:
        batch: Images, already checked by `image_array`.
        dtype: The model's input dtype.
        name: Argument name for error messages. Defaults to `"x"`.
        offset: Index of the batch's first sample in the whole input, for error messages.
            Defaults to `0`.

    Raises:
        ValueError: On non-finite values.
    """
    batch = np.asarray(batch).astype(dtype, copy=False)
    finite = np.isfinite(batch)
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        where = f" (in samples {offset} to {offset + len(batch) - 1})" if offset else ""
        raise ValueError(f"`{name}` contains {bad} non-finite values (NaN or inf){where}.")
    return batch


def check_images(x, input_shape: tuple, dtype: str, name: str = "x") -> np.ndarray:
    """Checks a batch of model inputs and returns it as a NumPy array of the model's dtype.

    This casts and scans the whole array: for large inputs use `iterate_batches`, which does
    so one batch at a time.

    Raises:
        ValueError: On a shape that does not fit the model input, or non-finite values.
        TypeError: On non-numeric data.
    """
    return cast_images(image_array(x, input_shape, name), dtype, name)


def check_batch_size(batch_size) -> int:
    """Checks that `batch_size` is a positive integer and returns it as an `int`.

    Raises:
        ValueError: Otherwise.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer, received {batch_size!r}.")
    return int(batch_size)


def check_labels(y, n: int, n_classes: int, name: str = "y") -> np.ndarray:
    """Checks integer class labels `(n,)` (or `(n, 1)`) and returns them as int64.

    Raises:
        ValueError: On a wrong shape, non-integer values, or labels outside `[0, n_classes)`.
    """
    if y is None:
        raise ValueError(f"`{name}` (the true labels) is required with array inputs.")
    checks.no_booleans(y, name)
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != n:
        hint = (" Pass integer class indices, e.g. `np.argmax(y, axis=1)` for one-hot labels."
                if labels.ndim == 2 else "")
        raise ValueError(
            f"`{name}` must hold one integer label per sample, shape ({n},); received shape "
            f"{labels.shape}.{hint}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.issubdtype(labels.dtype, np.floating) or not np.all(labels == np.round(labels)):
            raise ValueError(
                f"`{name}` must hold integer class indices; received dtype {labels.dtype}."
            )
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"`{name}` must be class indices in [0, {n_classes}); received values in "
            f"[{labels.min()}, {labels.max()}]."
        )
    return labels


def dataset_size(x) -> int | None:
    """Number of samples of an array input, `None` for a dataset (unknown in general)."""
    if _backend.is_tf_dataset(x):
        return None
    return int(np.shape(x)[0])


def iterate_batches(x, y, batch_size: int, input_shape: tuple, dtype: str,
                    n_classes: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yields validated `(images, labels)` batches of at most `batch_size` samples.

    `x` is an array (with labels `y`) or (TensorFlow backend) a `tf.data.Dataset` of batched
    `(images, labels)` pairs (then `y` must be `None`); a dataset batch larger than `batch_size`
    is split. An array is
    checked for its shape once and cast and scanned for non-finite values one batch at a time,
    so the extra memory does not grow with its length.

    Raises:
        ValueError: On invalid data (see `check_images`, `check_labels`), a dataset of
            unbatched or non-`(x, y)` elements, or a dataset on the JAX or PyTorch backend.
    """
    batch_size = check_batch_size(batch_size)
    if _backend.is_tf_dataset(x):
        _backend.require(
            "A tf.data.Dataset as `x`",
            alternative="Pass NumPy arrays `x` and `y` (cast and checked one batch at a time).",
        )
        if y is not None:
            raise ValueError("`y` must be None when `x` is a tf.data.Dataset of (x, y) batches.")
        spec = x.element_spec
        if not isinstance(spec, tuple) or len(spec) != 2:
            raise ValueError(
                "The dataset must yield `(images, labels)` pairs; its element_spec is "
                f"{spec!r}."
            )
        if spec[0].shape.rank is not None and spec[0].shape.rank == len(input_shape):
            raise ValueError(
                "The dataset yields single samples; batch it first, e.g. `dataset.batch(64)`."
            )
        for xb, yb in x:
            images = check_images(xb.numpy(), input_shape, dtype)
            labels = check_labels(yb.numpy(), len(images), n_classes)
            for start in range(0, len(images), batch_size):
                yield images[start:start + batch_size], labels[start:start + batch_size]
        return
    images = image_array(x, input_shape)  # shape only: no O(n) copy of the data
    labels = check_labels(y, len(images), n_classes)
    for start in range(0, len(images), batch_size):
        batch = cast_images(images[start:start + batch_size], dtype, offset=start)
        yield batch, labels[start:start + batch_size]
