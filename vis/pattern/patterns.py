"""`Patterns`: fitted signal directions, one kernel-shaped array per Dense/Conv layer."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping

import numpy as np

from vis.utils import checks

__all__ = ["Patterns"]

_POS, _NEG, _META = "pattern:", "negative:", "__estimator__"


def _checked(arrays, param: str) -> dict[str, np.ndarray]:
    if not isinstance(arrays, Mapping):
        raise TypeError(f"`{param}` must be a mapping layer path -> array, got {type(arrays).__name__}.")
    out = {}
    for key, value in arrays.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"`{param}` keys must be layer paths (non-empty str), got {key!r}.")
        arr = np.array(value, dtype="float64")
        if arr.ndim < 2 or not np.all(np.isfinite(arr)):
            raise ValueError(
                f"`{param}[{key!r}]` must be a finite kernel-shaped array (ndim >= 2), got shape "
                f"{arr.shape}."
            )
        arr.setflags(write=False)
        out[key] = arr
    return out


class Patterns(Mapping):
    """The fitted patterns of a model: layer path -> array shaped like that layer's kernel.

    Column `j` of `pattern.reshape(-1, units)` is neuron `j`'s signal direction `a_j`, normalized
    so that `w_j^T a_j = 1` (where the estimator's denominator is not zero). For the
    `two_component` estimator, the mapping holds the positive-regime patterns `a+` (what
    PatternNet back-projects) and `negative` the negative-regime patterns `a-` (used by
    `signal_quality`). Arrays are read-only float64; the object is immutable, hashable by content
    (`digest`) and saved to / loaded from a `.npz` file.

    Args:
        patterns: Mapping layer path -> kernel-shaped array.
        estimator: The estimator that produced them (`'filter'`, `'linear'`, `'two_component'`).
        negative: For `two_component`: mapping layer path -> negative-regime pattern. Defaults to
            `None`.

    Raises:
        TypeError: If a mapping or key has the wrong type.
        ValueError: If an array is not finite or not kernel-shaped, or `negative` does not match.

    Example:
        >>> patterns = fit_patterns(model, x_train)
        >>> patterns["conv1"].shape
        (3, 3, 1, 16)
        >>> patterns.save("patterns.npz")
        >>> Patterns.load("patterns.npz").digest == patterns.digest
        True
    """

    def __init__(self, patterns, estimator: str, negative=None):
        self._patterns = _checked(patterns, "patterns")
        if not isinstance(estimator, str) or not estimator:
            raise TypeError(f"`estimator` must be a non-empty str, got {estimator!r}.")
        self.estimator = estimator
        self.negative = None if negative is None else _checked(negative, "negative")
        if self.negative is not None:
            for key, arr in self.negative.items():
                if key not in self._patterns or self._patterns[key].shape != arr.shape:
                    raise ValueError(
                        f"`negative[{key!r}]` has no positive pattern of the same shape."
                    )
        digest = hashlib.sha1(estimator.encode())
        for prefix, arrays in ((_POS, self._patterns), (_NEG, self.negative or {})):
            for key in sorted(arrays):
                digest.update(f"{prefix}{key}{arrays[key].shape}".encode())
                digest.update(np.ascontiguousarray(arrays[key]).tobytes())
        self.digest = digest.hexdigest()

    def __getitem__(self, key: str) -> np.ndarray:
        return self._patterns[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._patterns)

    def __len__(self) -> int:
        return len(self._patterns)

    def __repr__(self) -> str:
        shapes = {k: v.shape for k, v in self._patterns.items()}
        return f"Patterns(estimator={self.estimator!r}, {shapes})"

    def save(self, path: str | os.PathLike) -> None:
        """Saves the patterns to a NumPy `.npz` file.

        Args:
            path: The file path (NumPy appends `.npz` if missing).

        Example:
            >>> patterns.save("digits_patterns.npz")
        """
        arrays = {_POS + k: v for k, v in self._patterns.items()}
        arrays.update({_NEG + k: v for k, v in (self.negative or {}).items()})
        arrays[_META] = np.array(self.estimator)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Patterns:
        """Loads patterns written by `save`.

        Args:
            path: The `.npz` file (or the path given to `save`, without the `.npz` NumPy
                appended).

        Returns:
            The `Patterns`.

        Raises:
            FileNotFoundError: If there is no such file.
            ValueError: If the file was not written by `Patterns.save` (or is a directory).
            TypeError: If `path` is not a path.

        Example:
            >>> patterns = Patterns.load("digits_patterns.npz")
        """
        if isinstance(path, (str, os.PathLike)) and not os.path.exists(path) \
                and os.path.exists(os.fsdecode(os.fspath(path)) + ".npz"):
            path = os.fsdecode(os.fspath(path)) + ".npz"  # `save` (NumPy) appended the suffix
        path = checks.file_path(path, "path", "patterns file")
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            raise ValueError(f"`path` {path!r} is not a file written by Patterns.save (not a "
                             "NumPy .npz archive).") from None
        with archive as data:
            if _META not in data.files:
                raise ValueError(f"`path` {path!r} is not a file written by Patterns.save.")
            estimator = str(data[_META])
            pos = {k[len(_POS):]: data[k] for k in data.files if k.startswith(_POS)}
            neg = {k[len(_NEG):]: data[k] for k in data.files if k.startswith(_NEG)}
        return cls(pos, estimator, neg or None)
