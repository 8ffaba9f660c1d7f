"""Losses for `visualize_saliency_with_losses` and `visualize_activation` (keras-vis style).

A loss names the layer output it needs (`layer`) and computes one value per sample from it. The
saliency map is the gradient of `-sum(weight * loss)`: a loss is something to *minimize*, so
`ActivationMaximization` is the negated activation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

__all__ = ["Loss", "ActivationMaximization", "PerSample", "per_sample", "get", "register"]


class PerSample:
    """One target index per sample, for `filter_indices` (e.g. each image's own label).

    Args:
        indices: An integer array of shape `(N,)`.

    Example:
        >>> visualize_saliency(model, -1, per_sample(y), x)
    """

    def __init__(self, indices):
        arr = np.asarray(indices)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"`per_sample` expects a 1-D integer array of indices, got shape {arr.shape} and "
                f"dtype {arr.dtype}."
            )
        self.indices = arr.astype("int64")

    def __repr__(self) -> str:
        return f"PerSample({self.indices.tolist()})"


def per_sample(indices) -> PerSample:
    """Marks `indices` as one target per sample (see `PerSample`)."""
    return PerSample(indices)


class Loss:
    """Base class of the losses: a per-sample value computed from one layer's output.

    Subclasses set `layer` (an index, name, nested path or layer object) and implement
    `call(output, target)` returning a tensor of shape `(N,)`. `target` is the array returned by
    `target(n, output_shape)`, fed to the compiled function at run time (so that changing it does
    not retrace); the base returns `None`.

    Attributes:
        name: A display name.
        layer: The layer whose output the loss reads.
        pre_softmax: If `True` (the default) and the layer ends in a softmax, the loss reads the
            pre-softmax logits instead of the probabilities.

    Example:
        >>> class MeanActivation(Loss):
        ...     def __init__(self, layer):
        ...         self.layer = layer
        ...     def call(self, output, target, channel_axis=-1):
        ...         return -tf.reduce_mean(output, axis=list(range(1, len(output.shape))))
    """

    name: str = "loss"
    layer = -1
    pre_softmax: bool = True

    def target(self, n: int, output_shape: tuple, channel_axis: int = -1) -> np.ndarray | None:
        """The run-time target array for a batch of `n` samples (default: none)."""
        return None

    def call(self, output: tf.Tensor, target: tf.Tensor | None, channel_axis: int = -1) -> tf.Tensor:
        """Per-sample loss, shape `(N,)`, from the layer's `output` (channels on `channel_axis`)."""
        raise NotImplementedError("abstract: subclasses of Loss implement call()")

    def cache_key(self) -> object:
        """Identifies losses that trace to the same graph (default: the instance, so a new
        instance compiles a new function; override it to reuse graphs across instances). Run-time
        targets and loss weights are not part of the graph."""
        return self

    def __call__(
        self, output: tf.Tensor, target: tf.Tensor | None = None, channel_axis: int = -1
    ) -> tf.Tensor:
        return self.call(output, target, channel_axis)


def _units(output_shape: tuple, channel_axis: int) -> int:
    return int(output_shape[channel_axis])


def filter_mask(filter_indices, n: int, units: int, param: str = "filter_indices") -> np.ndarray:
    """A `(n, units)` float32 mask selecting `filter_indices` for each of `n` samples.

    Args:
        filter_indices: An int, a list of ints (summed), or `PerSample` (one per sample).
        n: Number of samples.
        units: Number of units / filters of the layer.
        param: Name used in error messages.

    Returns:
        The mask; row `i` has ones at the indices that sample `i`'s score sums.

    Raises:
        ValueError: If an index is out of range, the list is empty, or `PerSample` has the wrong
            length.
        TypeError: If `filter_indices` is of another type.
    """
    mask = np.zeros((n, units), dtype="float32")
    if isinstance(filter_indices, PerSample):
        idx = filter_indices.indices
        if len(idx) != n:
            raise ValueError(
                f"`{param}` has {len(idx)} per-sample indices but the input has {n} samples."
            )
        _check_range(idx, units, param)
        mask[np.arange(n), idx] = 1.0
        return mask
    if isinstance(filter_indices, (bool, np.bool_)) or filter_indices is None:
        raise TypeError(f"`{param}` must be an int or a list of ints, got {filter_indices!r}.")
    if isinstance(filter_indices, (int, np.integer)):
        indices = [int(filter_indices)]
    elif isinstance(filter_indices, (Sequence, np.ndarray)) and not isinstance(filter_indices, str):
        indices = list(np.asarray(filter_indices).ravel())
        if not indices:
            raise ValueError(f"`{param}` is empty: give at least one index.")
        if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in indices):
            raise TypeError(f"`{param}` must contain ints, got {filter_indices!r}.")
    else:
        raise TypeError(
            f"`{param}` must be an int, a list of ints or vis.losses.per_sample(...), got "
            f"{type(filter_indices).__name__}: {filter_indices!r}."
        )
    _check_range(np.asarray(indices), units, param)
    for i in indices:
        mask[:, int(i)] += 1.0
    return mask


def _check_range(indices: np.ndarray, units: int, param: str) -> None:
    bad = indices[(indices < -units) | (indices >= units)]
    if bad.size:
        raise ValueError(
            f"`{param}` index {int(bad[0])} is out of range: the layer has {units} units/filters "
            f"(valid 0..{units - 1})."
        )


class ActivationMaximization(Loss):
    """The negated activation of `filter_indices` of a layer: minimizing it maximizes them.

    For a Dense layer the activation is the unit's output; for a convolution, the mean of the
    filter's output over spatial positions. Several indices are summed. If the layer ends in a
    softmax, the pre-softmax logits are used (as keras-vis advised doing by hand).

    It also serves regression outputs: the saliency map shows what increases the output;
    `grad_modifier='negate'` shows what decreases it and `'small_values'` what keeps it steady.

    Args:
        layer: The layer (index, name, nested path or layer object).
        filter_indices: An int, a list of ints (summed), or `vis.losses.per_sample(indices)`.

    Example:
        >>> loss = ActivationMaximization("predictions", 3)
        >>> visualize_saliency_with_losses(model, [(loss, 1.0)], x)
    """

    name = "activation_maximization"

    def __init__(self, layer, filter_indices):
        self.layer = layer
        self.filter_indices = filter_indices

    def cache_key(self) -> object:
        layer = self.layer if isinstance(self.layer, (int, str)) else id(self.layer)
        return (type(self), layer, self.pre_softmax)

    def target(self, n: int, output_shape: tuple, channel_axis: int = -1) -> np.ndarray:
        return filter_mask(self.filter_indices, n, _units(output_shape, channel_axis))

    def call(self, output: tf.Tensor, target: tf.Tensor | None, channel_axis: int = -1) -> tf.Tensor:
        rank = len(output.shape)
        if rank > 2:
            axes = list(range(2, rank)) if channel_axis == 1 else list(range(1, rank - 1))
            output = tf.reduce_mean(output, axis=axes)
        return -tf.reduce_sum(output * tf.cast(target, output.dtype), axis=1)


_REGISTRY: dict[str, type] = {"activation_maximization": ActivationMaximization}


def register(name: str, cls: type) -> None:
    """Registers a `Loss` subclass under `name` for `get`."""
    if not (isinstance(cls, type) and issubclass(cls, Loss)):
        raise TypeError(f"`cls` must be a subclass of vis.losses.Loss, got {cls!r}.")
    _REGISTRY[name] = cls


def get(identifier) -> Loss | type:
    """Returns a loss class for a name, or the instance itself.

    Args:
        identifier: A registered name (`'activation_maximization'`), a `Loss` instance or a `Loss`
            subclass.

    Returns:
        The `Loss` instance or class.

    Raises:
        ValueError: If the name is unknown (lists the valid names).
        TypeError: If `identifier` is of another type.

    Example:
        >>> get("activation_maximization")("predictions", 0)
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _REGISTRY:
            return _REGISTRY[identifier]
        raise ValueError(
            f"Could not interpret loss identifier {identifier!r}. Valid names: {sorted(_REGISTRY)}."
        )
    raise TypeError(f"Could not interpret loss identifier: {identifier!r}.")
