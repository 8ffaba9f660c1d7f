"""The per-sample loss of parameter-space saliency: cross-entropy against the true label.

The loss is computed from logits whenever possible. For a model that ends in a softmax (a fused
`activation="softmax"` or a `Softmax`/`Activation("softmax")` layer) the working copy of the model
drops that softmax, so that `log p` is never formed from rounded probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import tensorflow as tf

__all__ = ["LossPlan", "plan_loss", "per_sample_loss", "is_graph_model"]

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


def _output_layer(model):
    """The innermost layer producing the model output (descending into nested models)."""
    layer = model.layers[-1]
    while is_graph_model(layer) and layer.layers:
        layer = layer.layers[-1]
    return layer


def _output_activation(model) -> tuple[str, object]:
    """Classifies the model output: `("softmax", layer)`, `("logits", None)` or `(name, layer)`."""
    layer = _output_layer(model)
    if isinstance(layer, keras.Model):
        return "unknown", layer
    if isinstance(layer, keras.layers.Softmax):
        return "softmax", layer
    if hasattr(layer, "activation"):
        name = _activation_name(layer.activation)
        if name == "softmax":
            return "softmax", layer
        if name in _LOGIT_ACTIVATIONS:
            return "logits", None
        return name, layer
    return "logits", None


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
    if kind == "unknown":
        name = type(layer if graph else model).__name__
        raise ValueError(
            f"loss='auto' cannot inspect the output of the subclassed model {name!r}; pass "
            "loss='logits' or loss='probabilities'."
        )
    if kind == "logits":
        return LossPlan("logits", False, outputs="logits")
    raise ValueError(
        f"loss='auto' found the output activation {kind!r} on layer {layer.name!r}, which is "
        "neither a softmax nor logits; pass loss='logits', loss='probabilities' or a callable."
    )


def per_sample_loss(plan: LossPlan, y: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
    """The cross-entropy (or the user's loss) of every sample, shape `(batch,)`.

    Raises:
        ValueError: If a loss callable returns one value for a whole batch.
    """
    if plan.mode == "callable":
        values = plan.fn(y, outputs)
        values = tf.convert_to_tensor(values)
        if values.shape.rank == 0 or (values.shape.rank == 2 and values.shape[-1] not in (1,)):
            raise ValueError(
                "A `loss` callable must return one loss per sample, shape (batch,); it returned "
                f"shape {tuple(values.shape)}. Use a reduction-free loss, e.g. "
                "`keras.losses.sparse_categorical_crossentropy`."
            )
        return tf.reshape(values, [-1])
    if not outputs.dtype.is_floating or outputs.dtype.size < 4:
        outputs = tf.cast(outputs, tf.float32)
    if plan.mode == "logits":
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=outputs)
    probabilities = outputs / tf.reduce_sum(outputs, axis=-1, keepdims=True)
    p_true = tf.gather(probabilities, y, axis=-1, batch_dims=1)
    return -tf.math.log(tf.clip_by_value(p_true, _EPSILON, 1.0))
