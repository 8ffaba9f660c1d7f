"""Targets: which class / unit each sample's map explains, always a 1-D int array for `raw`."""

from __future__ import annotations

import keras
import numpy as np

from vis import engine
from vis.losses import ActivationMaximization, Loss, PerSample
from vis.utils import checks
from vis.utils.model import output_shape

__all__ = ["resolve_targets", "target_score", "output_units", "PredictedScore", "predicted_score"]


def output_units(model, output=-1) -> int:
    """The number of units (classes, channels) of the explained output layer.

    Args:
        model: The user's model.
        output: The output layer (index, name, path or layer). Defaults to `-1`.

    Returns:
        The size of the layer's channel axis.

    Raises:
        ValueError: For an unknown layer.
    """
    copy = engine.get_copy(model)
    _, layer = copy.layer(output, "output")
    shape = output_shape(layer)
    return int(shape[copy.channel_axis(layer)]) if len(shape) > 1 else 1


def target_score(output, targets: np.ndarray) -> list:
    """The score every method explains: the (pre-softmax) unit `targets[i]` of `output`.

    Args:
        output: The output layer (index, name, path or layer).
        targets: One int per sample.

    Returns:
        `[(ActivationMaximization(output, per_sample(targets)), 1.0)]`.
    """
    return [(ActivationMaximization(output, PerSample(np.asarray(targets, dtype="int64"))), 1.0)]


def resolve_targets(model, x, targets, output=-1, batch_size=None, param: str = "targets"):
    """`targets` as one validated int per sample.

    Args:
        model: The user's model.
        x: The validated batch (a list of batches for a multi-input model).
        targets: `None` (each sample's predicted class: the arg-max of the output's pre-softmax
            score), an int (the same class for all), one int per sample (a 1-D array or list),
            or `vis.losses.per_sample(...)`.
        output: The explained output layer. Defaults to `-1`.
        batch_size: Chunk size of the forward pass for `targets=None`. Defaults to `None`.
        param: Name in error messages. Defaults to `"targets"`.

    Returns:
        An int64 array `(N,)`.

    Raises:
        ValueError: Wrong length, out-of-range index, or a 2-D (one-hot) array.
        TypeError: Booleans, floats or other types.

    Example:
        >>> resolve_targets(model, x[:3], 2)
        array([2, 2, 2])
    """
    n = len(x[0]) if isinstance(x, list) else len(x)
    units = output_units(model, output)
    if targets is None:
        scores = engine.activations(model, x, output, pre_softmax=True, batch_size=batch_size)
        scores = np.asarray(scores, dtype="float64")
        if scores.ndim > 2:  # conv outputs: the mean over space, as the score is defined
            copy = engine.get_copy(model)
            caxis = copy.channel_axis(copy.layer(output, "output")[1]) % scores.ndim
            scores = scores.mean(axis=tuple(a for a in range(1, scores.ndim) if a != caxis))
        return scores.reshape(n, -1).argmax(axis=1).astype("int64")
    if isinstance(targets, PerSample):
        arr = targets.indices
    elif isinstance(targets, (bool, np.bool_)):
        raise TypeError(f"`{param}` must be an int or one int per sample, got {targets!r}.")
    else:
        checks.no_booleans(targets, param)
        arr = np.asarray(targets)
        if arr.dtype == object or arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(
                f"`{param}` must be None, an int or one int per sample, got "
                f"{type(targets).__name__} with dtype {arr.dtype}: {targets!r}"[:300] + "."
            )
        if arr.ndim == 0:
            arr = np.full(n, int(arr))
        elif arr.ndim == 2:
            raise ValueError(
                f"`{param}` has shape {arr.shape}: give one class index per sample (e.g. "
                "`y.argmax(axis=1)` for one-hot labels), not a 2-D array."
            )
        elif arr.ndim != 1:
            raise ValueError(f"`{param}` must be one int per sample, got shape {arr.shape}.")
    if len(arr) != n:
        raise ValueError(f"`{param}` has {len(arr)} entries but the input has {n} samples.")
    bad = arr[(arr < 0) | (arr >= units)]
    if bad.size:
        raise ValueError(
            f"`{param}` index {int(bad[0])} is out of range: the output has {units} units "
            f"(valid 0..{units - 1})."
        )
    return arr.astype("int64")


class PredictedScore(Loss):
    """The pre-softmax score of each sample's predicted class, found inside the compiled pass.

    What `resolve_targets(targets=None)` followed by `target_score` computes in two passes (a
    forward pass for the arg-max, then the gradient pass), in one: the arg-max of the output's
    score is taken in the graph and held constant for the gradient (`stop_gradient` of its
    one-hot mask), so the map is the same. For outputs of shape `(N, units)` (see
    `predicted_score`); ties go to the first unit, as NumPy's `argmax`.

    Args:
        layer: The output layer (index, name, path or layer).
    """

    name = "predicted_score"

    def __init__(self, layer):
        self.layer = layer

    def cache_key(self) -> object:
        layer = self.layer if isinstance(self.layer, (int, str)) else id(self.layer)
        return (type(self), layer, self.pre_softmax)

    def call(self, output, target, channel_axis: int = -1):
        units = int(output.shape[-1])
        best = keras.ops.argmax(output, axis=-1)
        mask = keras.ops.stop_gradient(keras.ops.one_hot(best, units, dtype=output.dtype))
        return -keras.ops.sum(output * mask, axis=-1)


def predicted_score(model, output=-1) -> list | None:
    """`[(PredictedScore(output), 1.0)]` where it applies (a `(N, units)` output), else `None`.

    Args:
        model: The user's model.
        output: The explained output layer. Defaults to `-1`.

    Returns:
        The losses, or `None` for outputs of another rank (whose score is a spatial mean: the
        two-pass path keeps NumPy's float64 mean for the arg-max).
    """
    copy = engine.get_copy(model)
    _, layer = copy.layer(output, "output")
    return [(PredictedScore(output), 1.0)] if len(output_shape(layer)) == 2 else None
