"""The per-sample loss of parameter-space saliency: cross-entropy against the true label.

The loss is computed from logits whenever possible. For a model whose output is produced by a
softmax (a fused `activation="softmax"`, a `Softmax`/`Activation("softmax")` layer or a
`keras.ops.softmax` op, possibly followed by pass-through layers such as `Identity`) the working
copy of the model drops that softmax, so that `log p` is never formed from rounded probabilities.
`loss="auto"` reads the operation that produces `model.outputs[0]`; an output it cannot classify
(a `Lambda`, a custom layer, an arbitrary op) is an error asking for an explicit `loss`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras

from vis.utils.model import ends_in_softmax

__all__ = ["LossPlan", "plan_loss", "per_sample_loss", "is_graph_model", "output_operation"]

_LOGIT_ACTIVATIONS = ("linear", "log_softmax")
_EPSILON = 1e-7


@dataclass(frozen=True)
class LossPlan:
    """How the per-sample loss is computed.

    Attributes:
        mode: `"logits"`, `"probabilities"` or `"callable"`: what the working model outputs
            and how the loss is formed from it.
        strip_softmax: Whether the working copy drops the model's final softmax.
        output_layer: The layer whose softmax is dropped (`None` if nothing is dropped).
        fn: The user's loss callable for `mode="callable"`.
        outputs: What the *user's* model outputs: `"probabilities"`, `"logits"` or `"unknown"`.
    """

    mode: str
    strip_softmax: bool
    output_layer: object = None
    fn: Callable | None = None
    outputs: str = "unknown"


def is_graph_model(model) -> bool:
    """True for Functional and Sequential models (whose layer graph can be copied)."""
    if isinstance(model, keras.Sequential):
        return True
    return isinstance(model, keras.Model) and any(
        cls.__name__ == "Functional" for cls in type(model).__mro__
    )


def _activation_name(activation) -> str:
    if activation is None:
        return "linear"
    try:
        name = keras.activations.serialize(activation)
    except (ValueError, TypeError):
        name = None
    if not isinstance(name, str):
        name = getattr(activation, "__name__", repr(activation))
    return name


# Layers that return their input at inference: the output is classified by what feeds them.
_PASSTHROUGH = (keras.layers.Identity, keras.layers.Dropout, keras.layers.SpatialDropout1D,
                keras.layers.SpatialDropout2D, keras.layers.SpatialDropout3D,
                keras.layers.GaussianDropout, keras.layers.GaussianNoise,
                keras.layers.AlphaDropout, keras.layers.ActivityRegularization,
                keras.layers.Flatten, keras.layers.Reshape)
# Layers without an activation that map logits to logits (e.g. Conv(C, 1) -> global pooling).
_SCORE_LAYERS = (keras.layers.GlobalAveragePooling1D, keras.layers.GlobalAveragePooling2D,
                 keras.layers.GlobalAveragePooling3D, keras.layers.GlobalMaxPooling1D,
                 keras.layers.GlobalMaxPooling2D, keras.layers.GlobalMaxPooling3D)


def _producer(tensor):
    """The operation (layer or `keras.ops` op) that computed a symbolic tensor, and its node."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None, None
    operation = history.operation
    nodes = getattr(operation, "_inbound_nodes", None) or []
    node = nodes[history.node_index] if history.node_index < len(nodes) else None
    return operation, node


def _is_op(operation, name: str) -> bool:
    """Whether `operation` is the `keras.ops` operation `name` (not a layer)."""
    return not isinstance(operation, keras.layers.Layer) and type(operation).__name__ == name


def _last_axis(axis) -> bool:
    if isinstance(axis, (list, tuple)):
        axis = axis[0] if len(axis) == 1 else None
    return axis in (-1, 1)  # the model output is checked to be (batch, classes)


def output_operation(model):
    """The operation that produces the model's class scores.

    Follows `model.outputs[0]` back through nested models and pass-through layers (Identity,
    Dropout, `Activation("linear")`, Flatten, ...), so that a softmax followed by an Identity is
    still found. Works for layers and for `keras.ops` operations (`keras.ops.softmax(logits)`).

    Returns:
        The producing layer or operation (`None` when the graph cannot be read).
    """
    try:
        tensor = model.outputs[0]
    except (AttributeError, ValueError, IndexError, TypeError):
        return None
    operation, node = _producer(tensor)
    while operation is not None:
        if isinstance(operation, keras.Model):
            try:
                inner = operation.outputs
            except (AttributeError, ValueError):
                return operation
            if not inner or len(inner) != 1:
                return operation
            operation, node = _producer(inner[0])
            continue
        passthrough = isinstance(operation, _PASSTHROUGH) or (
            isinstance(operation, keras.layers.Activation)
            and _activation_name(operation.activation) == "linear"
        )
        if not passthrough or node is None or not node.input_tensors:
            return operation
        operation, node = _producer(node.input_tensors[0])
    return None


def _output_activation(model) -> tuple[str, object]:
    """Classifies the model output: `("softmax", op)`, `("logits", None)`, `(name, layer)` for
    another activation, or `("unknown", op)` for an operation that cannot be classified."""
    operation = output_operation(model)
    if operation is None or isinstance(operation, (keras.Model, keras.layers.InputLayer)):
        return "unknown", operation
    if isinstance(operation, keras.layers.Softmax):
        return ("softmax" if _last_axis(operation.axis) else "unknown"), operation
    if _is_op(operation, "Softmax"):
        return ("softmax" if _last_axis(getattr(operation, "axis", -1)) else "unknown"), operation
    if _is_op(operation, "LogSoftmax"):
        return ("logits" if _last_axis(getattr(operation, "axis", -1)) else "unknown"), operation
    if isinstance(operation, keras.layers.Lambda) or not isinstance(operation, keras.layers.Layer):
        return "unknown", operation
    if ends_in_softmax(operation):
        return "softmax", operation
    if hasattr(operation, "activation"):
        name = _activation_name(operation.activation)
        if name in _LOGIT_ACTIVATIONS:
            return "logits", None
        return name, operation
    if isinstance(operation, _SCORE_LAYERS):
        return "logits", None
    return "unknown", operation


def plan_loss(model, loss) -> LossPlan:
    """Decides how the cross-entropy of `model` is computed.

    Args:
        model: The user's Keras model.
        loss: `"auto"` (or `None`), `"logits"`, `"probabilities"`, or a callable
            `loss(y_true, y_pred) -> (batch,)` of integer labels and model outputs.

    Returns:
        A `LossPlan`.

    Raises:
        ValueError: If `loss` is unknown, or `"auto"` cannot tell what the model outputs.
    """
    if loss is None:
        loss = "auto"
    if callable(loss):
        return LossPlan("callable", False, fn=loss)
    if loss not in ("auto", "logits", "probabilities"):
        raise ValueError(
            "`loss` must be 'auto', 'logits', 'probabilities' or a callable "
            f"`loss(y_true, y_pred) -> per-sample losses`; received loss={loss!r}."
        )
    if loss == "logits":
        return LossPlan("logits", False, outputs="logits")
    graph = is_graph_model(model)
    kind, layer = _output_activation(model) if graph else ("unknown", None)
    if kind == "softmax":
        return LossPlan("logits", True, output_layer=layer, outputs="probabilities")
    if loss == "probabilities":
        return LossPlan("probabilities", False, outputs="probabilities")
    if kind == "logits":
        return LossPlan("logits", False, outputs="logits")
    subclassed = model if not graph else layer
    if kind == "unknown" and isinstance(subclassed, keras.Model) \
            and not is_graph_model(subclassed):
        raise ValueError(
            f"loss='auto' cannot inspect the output of the subclassed model "
            f"{type(subclassed).__name__!r}; pass loss='logits' or loss='probabilities'."
        )
    if kind == "unknown":
        what = "nothing" if layer is None else (
            f"{type(layer).__name__} {'layer' if isinstance(layer, keras.layers.Layer) else 'op'} "
            f"{getattr(layer, 'name', '')!r}"
        )
        raise ValueError(
            f"loss='auto' cannot tell whether model {model.name!r} outputs logits or "
            f"probabilities: its output is produced by {what}, which is neither a softmax nor a "
            "layer known to output logits. Pass loss='logits' (unnormalised class scores), "
            "loss='probabilities' (scores that sum to 1) or a callable."
        )
    raise ValueError(
        f"loss='auto' found the output activation {kind!r} on layer {layer.name!r}, which is "
        "neither a softmax nor logits; pass loss='logits', loss='probabilities' or a callable."
    )


def per_sample_loss(plan: LossPlan, y, outputs):
    """The cross-entropy (or the user's loss) of every sample, shape `(batch,)`.

    Written in `keras.ops` (TensorFlow, JAX and PyTorch backends).

    Raises:
        ValueError: If a loss callable returns one value for a whole batch.
    """
    ops = keras.ops
    if plan.mode == "callable":
        values = ops.convert_to_tensor(plan.fn(y, outputs))
        rank = len(values.shape)
        if rank == 0 or (rank == 2 and values.shape[-1] not in (1,)):
            raise ValueError(
                "A `loss` callable must return one loss per sample, shape (batch,); it returned "
                f"shape {tuple(values.shape)}. Use a reduction-free loss, e.g. "
                "`keras.losses.sparse_categorical_crossentropy`."
            )
        return ops.reshape(values, (-1,))
    dtype = keras.backend.standardize_dtype(outputs.dtype)
    if "float" not in dtype or dtype in ("float16", "bfloat16"):
        outputs = ops.cast(outputs, "float32")
    if plan.mode == "logits":
        return ops.sparse_categorical_crossentropy(y, outputs, from_logits=True)
    probabilities = outputs / ops.sum(outputs, axis=-1, keepdims=True)
    index = ops.expand_dims(ops.cast(y, "int32"), -1)
    p_true = ops.squeeze(ops.take_along_axis(probabilities, index, axis=-1), -1)
    return -ops.log(ops.clip(p_true, _EPSILON, 1.0))
