"""What the keras-vis entry points share: `model.input` as a model, loss lists, seed inputs.

keras-vis' `*_with_losses` functions take the model's input tensor (`model.input`) rather than
the model, and a list of `(Loss, weight)` pairs whose layers are layer objects. `as_model`
turns such an input tensor into a Functional model over the user's own layers (nothing is
modified; the last few are cached, so repeated calls reuse their copies and compiled
functions). keras-vis returns one map for one sample, and also for a batch of one:
`prepare_seed` marks both as single.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import keras
import numpy as np

from vis import inputs as _inputs
from vis.losses import Loss

__all__ = ["as_model", "check_losses", "prepare_seed"]

# Functional models built from input tensors, most recently used last (bounded: each holds the
# user's layers alive, so only a few are kept).
_MODELS: OrderedDict = OrderedDict()
_MAX_MODELS = 8
_LOCK = threading.Lock()


def check_losses(losses) -> list[tuple[Loss, float]]:
    """`losses` as a list of `(Loss, float weight)` pairs.

    Raises:
        TypeError: Not a non-empty list of `(vis.losses.Loss, weight)` pairs.
        ValueError: A weight that is not a finite number.
    """
    if isinstance(losses, Loss):
        losses = [(losses, 1.0)]
    if not isinstance(losses, Sequence) or isinstance(losses, str) or not losses:
        raise TypeError("`losses` must be a non-empty list of (vis.losses.Loss, weight) pairs.")
    checked = []
    for item in losses:
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], Loss)):
            raise TypeError(f"`losses` items must be (vis.losses.Loss, weight) pairs, got {item!r}.")
        try:
            weight = float(item[1])
        except (TypeError, ValueError):
            weight = float("nan")
        if isinstance(item[1], (bool, np.bool_, str)) or not np.isfinite(weight):
            raise ValueError(f"`losses` weight must be a finite number, got {item[1]!r}.")
        checked.append((item[0], weight))
    return checked


def _reachable(inputs: list) -> list[keras.layers.Layer]:
    """The layers reachable from the given input tensors (following the layers' outbound nodes)."""
    seen, order = set(), []
    stack = [t._keras_history[0] for t in inputs]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        order.append(layer)
        for node in getattr(layer, "_outbound_nodes", []):
            stack.append(node.operation)
    return order


def _output_of(layer_id, layers: list, param: str):
    if isinstance(layer_id, keras.layers.Layer):
        layer = layer_id
    elif isinstance(layer_id, str):
        found = [layer for layer in layers if layer.name == layer_id]
        if not found:
            raise ValueError(
                f"`{param}`: no layer named {layer_id!r} is computed from the input tensor; "
                f"valid names: {sorted(layer.name for layer in layers)}."
            )
        layer = found[0]
    elif getattr(layer_id, "_keras_history", None) is not None:
        return layer_id
    else:
        raise TypeError(
            f"`{param}`: with `model.input` (an input tensor) instead of the model, name each "
            "loss's layer by the layer object (`model.layers[idx]`, as keras-vis does) or its "
            f"name; an index refers to a model's `layers` and needs the model. Got {layer_id!r}."
        )
    try:
        return layer.output
    except (AttributeError, ValueError) as exc:
        raise ValueError(
            f"`{param}`: layer {getattr(layer, 'name', layer)!r} has no single output tensor "
            f"({exc}); pass the model itself."
        ) from None


def as_model(input_tensor, losses: Sequence[tuple[Loss, float]] = (),
             extra_layers: Sequence = (), param: str = "input_tensor") -> keras.Model:
    """The model to explain: `input_tensor` itself if it is a model, else a Functional model.

    keras-vis' `visualize_*_with_losses(model.input, losses, ...)`: the input tensor (or list
    of them) and the layers named by the losses (and `extra_layers`, e.g. Grad-CAM's
    penultimate layer) define a `keras.Model(input_tensor, [their outputs])` over the user's own
    layers and weights. It is built once per (input, outputs) and cached (the last few), so
    repeated calls reuse its copies and compiled functions.

    Args:
        input_tensor: A `keras.Model`, or the input `KerasTensor` (a list of them) of one.
        losses: The `(Loss, weight)` pairs; their `layer`s must be layer objects or names.
        extra_layers: More layers the computation reads. Defaults to `()`.
        param: The argument's name in error messages. Defaults to `"input_tensor"`.

    Returns:
        A `keras.Model`.

    Raises:
        TypeError: If `input_tensor` is neither a model nor input tensors, or a loss's layer is
            an index.
        ValueError: If a layer is not computed from the input tensor.

    Example:
        >>> from vis.losses import ActivationMaximization
        >>> m = as_model(model.input, [(ActivationMaximization(model.layers[-1], 0), -1)])
        >>> m.layers[-1] is model.layers[-1]
        True
    """
    if isinstance(input_tensor, keras.Model):
        return input_tensor
    tensors = list(input_tensor) if isinstance(input_tensor, (list, tuple)) else [input_tensor]
    if not tensors or not all(getattr(t, "_keras_history", None) is not None and isinstance(
            t._keras_history[0], keras.layers.InputLayer) for t in tensors):
        raise TypeError(
            f"`{param}` must be a keras.Model or its input tensor(s) (`model.input`), got "
            f"{type(input_tensor).__name__}."
        )
    layers = _reachable(tensors)
    outputs = []
    for loss, _ in losses:
        outputs.append(_output_of(loss.layer, layers, "losses"))
    for layer_id in extra_layers:
        if layer_id is not None:
            outputs.append(_output_of(layer_id, layers, "penultimate_layer"))
    outputs = [o for i, o in enumerate(outputs) if all(o is not p for p in outputs[:i])]
    if not outputs:
        raise ValueError("`losses` name no layer to explain.")
    key = tuple(id(t) for t in tensors) + tuple(id(o) for o in outputs)
    with _LOCK:
        cached = _MODELS.pop(key, None)
        if cached is not None and all(a is b for a, b in zip(cached[1], tensors + outputs)):
            _MODELS[key] = cached
            return cached[0]
    model = keras.Model(tensors if len(tensors) > 1 else tensors[0],
                        outputs if len(outputs) > 1 else outputs[0])
    with _LOCK:
        _MODELS[key] = (model, tensors + outputs)
        while len(_MODELS) > _MAX_MODELS:
            _MODELS.popitem(last=False)
    return model


def prepare_seed(model: keras.Model, seed_input, param: str = "seed_input") -> _inputs.Batch:
    """`vis.inputs.prepare`, with keras-vis' rule: one sample *or a batch of one* gives one map.

    Args:
        model: The model.
        seed_input: One sample or a batch (a list / dict of them for several inputs).
        param: The argument's name in error messages. Defaults to `"seed_input"`.

    Returns:
        The `vis.inputs.Batch`, `single` for one sample or a batch of one.
    """
    batch = _inputs.prepare(model, seed_input, param)
    batch.single = batch.single or len(batch) == 1
    return batch
