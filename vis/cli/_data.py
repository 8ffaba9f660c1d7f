"""`.npz` data of `vis sanity` and `vis evaluate` (DATA) and `--fit-data`: read safely, checked against the model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vis.cli._errors import UsageError

__all__ = ["load_data", "check_classifier", "check_images", "check_labels"]


def load_data(path: str, n: int | None, names: Sequence[str] = ("x", "y"),
              option: str = "DATA") -> dict[str, np.ndarray]:
    """The arrays `names` of an `.npz` file (the first `n` rows), read before TensorFlow is imported.

    Args:
        path: The `.npz` file.
        n: Read at most this many rows. `None` reads whole arrays.
        names: The arrays to read. Defaults to `("x", "y")`.
        option: The argument the file came from, for messages. Defaults to `"DATA"`.

    Returns:
        A dict `name -> array`.

    Raises:
        UsageError: A missing file, or one that `vis.utils.io.load_npz` refuses.

    Example:
        >>> load_data("data.npz", 16)["x"].shape  # doctest: +SKIP
        (16, 8, 8, 1)
    """
    from vis.utils import io

    arrays = f"array{'s' if len(names) > 1 else ''} {' and '.join(names)}"
    try:
        return io.load_npz(path, tuple(names), max_rows=n)
    except FileNotFoundError as err:
        raise UsageError(f"{option}: {err}") from None
    except ValueError as err:
        raise UsageError(f"{option} must be a .npz file with {arrays}: {err}") from None


def check_classifier(model, command: str = "vis sanity") -> None:
    """Refuses a model with several outputs (the labels index the classes of one output).

    Args:
        model: The loaded model.
        command: The command, for the message. Defaults to `"vis sanity"`.

    Raises:
        UsageError: If the model has several outputs.
    """
    if len(model.outputs) != 1:
        raise UsageError(
            f"the model has {len(model.outputs)} outputs; {command} explains single-output "
            "classifiers"
        )


def check_images(x: np.ndarray, model, path: str) -> np.ndarray:
    """`x` as float32 model inputs: the model's input shape, numbers, finite.

    Args:
        x: The array `x` of the file.
        model: The loaded model.
        path: The file, for messages.

    Returns:
        `x` as float32.

    Raises:
        UsageError: A wrong shape, non-numeric values, NaN or inf.
    """
    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim != len(expected) + 1 or any(
        e is not None and e != s for e, s in zip(expected, x.shape[1:])
    ):
        raise UsageError(
            f"x in {path!r} has shape {x.shape}; the model expects (n, "
            f"{', '.join(str(e) for e in expected)})"
        )
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise UsageError(f"x in {path!r} must hold numbers, got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise UsageError(f"x in {path!r} contains NaN or inf")
    return x.astype("float32")


def check_labels(y: np.ndarray, n: int, model, path: str) -> np.ndarray:
    """`y` as int64 labels: one per image, in the range of the model's single output.

    Args:
        y: The array `y` of the file.
        n: The number of images.
        model: The loaded model.
        path: The file, for messages.

    Returns:
        `y` as int64.

    Raises:
        UsageError: A wrong shape or dtype, or labels out of the range of the model's output.
    """
    if y.ndim != 1 or len(y) != n or not np.issubdtype(y.dtype, np.integer):
        raise UsageError(
            f"y in {path!r} must be {n} integer labels (shape ({n},)), got dtype "
            f"{y.dtype} and shape {y.shape}"
        )
    units = int(model.outputs[0].shape[-1])
    if len(y) and (y.min() < 0 or y.max() >= units):
        raise UsageError(
            f"labels y in {path!r} must be in 0..{units - 1} (the model has {units} outputs), "
            f"got values in {int(y.min())}..{int(y.max())}"
        )
    return y.astype("int64")
