"""Losses for `visualize_saliency_with_losses` and `visualize_activation` (keras-vis style).

A loss names the layer output it needs (`layer`) and computes one value per sample from it. The
saliency map is the gradient of `-sum(weight * loss)`: a loss is something to *minimize*, so
`ActivationMaximization` is the negated activation.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from vis.registry import Registry
from vis.utils import checks

Tensor = Any  # a backend tensor (tf.Tensor, jax.Array or torch.Tensor)

__all__ = ["Loss", "ActivationMaximization", "PerSample", "per_sample", "get", "register", "names"]


class PerSample:
    """One target index per sample, for `filter_indices` (e.g. each image's own label).

    Where an int or a list of ints in `filter_indices` selects the same units for every sample,
    `PerSample` selects unit `indices[i]` for sample `i`, so one call explains each image with
    respect to its own class. Build it with `per_sample(indices)`.

    Args:
        indices: An integer array of shape `(N,)`, one index per sample of the batch.

    Raises:
        ValueError: If `indices` is not a 1-D integer array.

    Example:
        >>> from vis.visualization import visualize_saliency
        >>> maps = visualize_saliency(model, -1, PerSample(y), x)
    """

    def __init__(self, indices):
        checks.no_booleans(indices, "per_sample")
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
    """Marks `indices` as one target index per sample, for `filter_indices`.

    Every `visualize_*` function accepts the result as `filter_indices`: sample `i` is then
    explained with respect to unit (class) `indices[i]` instead of one shared index. The number
    of indices must equal the number of samples of `seed_input`.

    Args:
        indices: An integer array-like of shape `(N,)`, e.g. the labels `y` of the batch.

    Returns:
        A `PerSample` wrapping `indices` as int64.

    Raises:
        ValueError: If `indices` is not a 1-D integer array.

    Example:
        >>> from vis.visualization import visualize_saliency
        >>> maps = visualize_saliency(model, -1, per_sample(y[:4]), x[:4])
        >>> per_sample([3, 1])
        PerSample([3, 1])
    """
    return PerSample(indices)


class Loss(abc.ABC):
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
        ...         return -keras.ops.mean(output, axis=list(range(1, len(output.shape))))
    """

    name: str = "loss"
    layer = -1
    pre_softmax: bool = True

    def target(self, n: int, output_shape: tuple, channel_axis: int = -1) -> np.ndarray | None:
        """Returns the run-time target array for a batch of `n` samples (base class: `None`).

        The array is fed to the compiled gradient function as an input (not baked into the
        graph), so new targets do not retrace. Its first axis must have length `n`; the engine
        slices it with the batch when `batch_size` is set. It reaches `call` as `target`.

        Args:
            n: Number of samples in the batch.
            output_shape: Output shape of the loss's layer, batch axis included (e.g.
                `(None, 10)`).
            channel_axis: Channel axis of that output. Defaults to `-1`.

        Returns:
            An array whose first axis has length `n`, or `None` when the loss needs no target.

        Example:
            >>> Loss().target(4, (None, 10)) is None
            True
        """
        return None

    @abc.abstractmethod
    def call(self, output: Tensor, target: Tensor | None, channel_axis: int = -1) -> Tensor:
        """Computes the per-sample loss from the layer's output (subclasses implement it).

        It is traced inside the compiled gradient function: use TensorFlow operations. The
        explained score is `-sum(weight * loss)`, so return a value to *minimize*.

        Args:
            output: The layer's output for the batch (pre-softmax logits when `pre_softmax` is
                set and the layer ends in a softmax).
            target: The batch's slice of the array returned by `target`, or `None`.
            channel_axis: Channel axis of `output` (`1` for `channels_first`). Defaults to `-1`.

        Returns:
            A tensor of shape `(N,)`: one loss value per sample.

        Raises:
            TypeError: Instantiating a subclass that does not implement it.

        Example:
            >>> class SumLoss(Loss):
            ...     def call(self, output, target, channel_axis=-1):
            ...         return -keras.ops.sum(output, axis=-1)
            >>> keras.ops.convert_to_numpy(SumLoss().call(keras.ops.ones((2, 3)), None))
            array([-3., -3.], dtype=float32)
        """

    def cache_key(self) -> object:
        """Returns a hashable key identifying losses that trace to the same graph.

        The base class returns the instance itself, so every new instance compiles a new
        function; override it to reuse compiled graphs across equivalent instances. Run-time
        targets (see `target`) and loss weights are not part of the graph and must not be part
        of the key.

        Returns:
            A hashable object; equal keys share one compiled gradient function.

        Example:
            >>> loss = Loss()
            >>> loss.cache_key() is loss
            True
        """
        return self

    def __call__(
        self, output: Tensor, target: Tensor | None = None, channel_axis: int = -1
    ) -> Tensor:
        return self.call(output, target, channel_axis)


def _units(output_shape: tuple, channel_axis: int) -> int:
    return int(output_shape[channel_axis])


def filter_mask(filter_indices, n: int, units: int, param: str = "filter_indices") -> np.ndarray:
    """A `(n, units)` float32 mask selecting `filter_indices` for each of `n` samples.

    Args:
        filter_indices: An int, a list of ints (summed), `PerSample` (one per sample), or
            `None` (every unit, averaged: keras-vis' "all filters").
        n: Number of samples.
        units: Number of units / filters of the layer.
        param: Name used in error messages.

    Returns:
        The mask; row `i` has ones at the indices that sample `i`'s score sums.

    Raises:
        ValueError: If an index is out of range, the list is empty, `PerSample` has the wrong
            length, or the indices are a 2-D array (one-hot labels: use `per_sample`).
        TypeError: If `filter_indices` is of another type.

    Example:
        >>> filter_mask([0, 2], n=2, units=3)
        array([[1., 0., 1.],
               [1., 0., 1.]], dtype=float32)
        >>> filter_mask(per_sample([2, 0]), n=2, units=3)
        array([[0., 0., 1.],
               [1., 0., 0.]], dtype=float32)
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
    if filter_indices is None:  # keras-vis: all filters (the mean over the units)
        mask[:] = 1.0 / units
        return mask
    if isinstance(filter_indices, (bool, np.bool_)):
        raise TypeError(f"`{param}` must be an int or a list of ints, got {filter_indices!r}.")
    if isinstance(filter_indices, (int, np.integer)):
        indices = [int(filter_indices)]
    elif isinstance(filter_indices, (Sequence, np.ndarray)) and not isinstance(filter_indices, str):
        checks.no_booleans(filter_indices, param)
        try:
            shape = np.shape(filter_indices)
        except ValueError:  # ragged nesting
            shape = (0, 0)
        if len(shape) > 1:
            raise ValueError(
                f"`{param}` is an array of shape {shape}, e.g. one-hot labels: a list of ints "
                "selects the same units for every sample (summed). For one unit per sample "
                f"pass `{param}=vis.losses.per_sample(labels)` (one-hot `y`: "
                "`per_sample(y.argmax(axis=1))`)."
            )
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
        >>> from vis.visualization import visualize_saliency_with_losses
        >>> loss = ActivationMaximization("predictions", 3)
        >>> maps = visualize_saliency_with_losses(model, [(loss, 1.0)], x)
    """

    name = "activation_maximization"

    def __init__(self, layer, filter_indices):
        self.layer = layer
        self.filter_indices = filter_indices

    def cache_key(self) -> object:
        """Returns a key shared by all `ActivationMaximization` losses of the same layer.

        `filter_indices` are a run-time target, so losses that differ only in their indices
        reuse one compiled gradient function.

        Returns:
            The tuple `(type, layer, pre_softmax)`; a layer object is keyed by its `id`.

        Example:
            >>> a, b = ActivationMaximization(-1, 3), ActivationMaximization(-1, [0, 5])
            >>> a.cache_key() == b.cache_key()
            True
        """
        layer = self.layer if isinstance(self.layer, (int, str)) else id(self.layer)
        return (type(self), layer, self.pre_softmax)

    def target(self, n: int, output_shape: tuple, channel_axis: int = -1) -> np.ndarray:
        """Returns the `(n, units)` mask of `filter_indices` (see `filter_mask`).

        Args:
            n: Number of samples in the batch.
            output_shape: Output shape of the layer, batch axis included.
            channel_axis: Axis of `output_shape` holding the units / filters. Defaults to `-1`.

        Returns:
            A float32 array of shape `(n, units)`.

        Raises:
            ValueError: If an index is out of range or a `PerSample` has not `n` indices.
            TypeError: If `filter_indices` is not an int, a list of ints or a `PerSample`.

        Example:
            >>> ActivationMaximization("predictions", [1, 3]).target(2, (None, 4))
            array([[0., 1., 0., 1.],
                   [0., 1., 0., 1.]], dtype=float32)
        """
        return filter_mask(self.filter_indices, n, _units(output_shape, channel_axis))

    def call(self, output: Tensor, target: Tensor | None, channel_axis: int = -1) -> Tensor:
        """Returns minus the masked sum of the (spatially averaged) activations, per sample.

        Args:
            output: The layer's output `(N, units)`, or `(N, ..., filters)` /
                `(N, filters, ...)` for a convolution (averaged over the spatial axes).
            target: The `(N, units)` mask from `target`.
            channel_axis: `1` for `channels_first` outputs, else `-1`. Defaults to `-1`.

        Returns:
            A tensor of shape `(N,)`: `-sum_k target[i, k] * activation[i, k]`.

        Example:
            >>> loss = ActivationMaximization("predictions", 3)
            >>> mask = loss.target(1, (None, 4))
            >>> keras.ops.convert_to_numpy(loss.call(keras.ops.array([[1.0, 2.0, 3.0, 4.0]]), mask))
            array([-4.], dtype=float32)
        """
        rank = len(output.shape)
        if rank > 2:
            axes = list(range(2, rank)) if channel_axis == 1 else list(range(1, rank - 1))
            output = keras.ops.mean(output, axis=axes)
        return -keras.ops.sum(output * keras.ops.cast(target, output.dtype), axis=1)


def _coerce(identifier) -> Loss:
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        try:
            return identifier()
        except TypeError as exc:
            raise TypeError(
                f"Could not make a {identifier.__name__} without arguments ({exc}); pass an "
                "instance, or a name with its arguments: get(name, layer=..., ...)."
            ) from None
    raise TypeError(f"Could not interpret loss identifier: {identifier!r}.")


REGISTRY: Registry[Loss] = Registry("loss", coerce=_coerce,
                                    accepts="a vis.losses.Loss instance or subclass")
REGISTRY.register("activation_maximization", ActivationMaximization, factory=True)


def register(name: str, cls: type) -> None:
    """Registers a `Loss` subclass under `name`, so that `get(name, **kwargs)` builds one.

    An existing registration under the same name is replaced.

    Args:
        name: The registry name.
        cls: A subclass of `vis.losses.Loss` (the class, not an instance).

    Raises:
        TypeError: If `cls` is not a subclass of `Loss`.

    Example:
        >>> class LogitMaximization(ActivationMaximization):
        ...     name = "logit_maximization"
        >>> register("logit_maximization", LogitMaximization)
        >>> get("logit_maximization", layer=-1, filter_indices=3).filter_indices
        3
    """
    if not (isinstance(cls, type) and issubclass(cls, Loss)):
        raise TypeError(f"`cls` must be a subclass of vis.losses.Loss, got {cls!r}.")
    REGISTRY.register(name, cls, factory=True)


def names() -> list[str]:
    """Returns the registered loss names, sorted.

    Example:
        >>> names()
        ['activation_maximization']
    """
    return REGISTRY.names()


def get(identifier, **kwargs) -> Loss:
    """Returns a ready `Loss` for a name (built with `kwargs`), a config dict, or an instance.

    Args:
        identifier: A registered name (`'activation_maximization'`), a dict
            `{"name": ..., **kwargs}`, a `Loss` instance (returned as it is), or a `Loss`
            subclass that takes no arguments.
        **kwargs: The loss's arguments, for a name.

    Returns:
        The `Loss` instance.

    Raises:
        ValueError: If the name is unknown (lists the valid names).
        TypeError: If `identifier` is of another type, or the arguments do not fit.

    Example:
        >>> loss = get("activation_maximization", layer="predictions", filter_indices=0)
        >>> get(loss) is loss
        True
    """
    return REGISTRY.get(identifier, **kwargs)
