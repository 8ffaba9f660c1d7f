"""A weight-synchronised copy of the user's model that parameter-space saliency differentiates.

The copy (`vis.copies.SyncedCopy`: the layers rebuilt from their configs, the variables linked to
the user's) can drop the model's final softmax, so that the cross-entropy is formed from logits,
and can expose, for every scored Conv/Dense layer, the layer's input and its pre-activation output
("taps"): from these two tensors the per-sample kernel gradient of a whole batch follows from one
forward and one backward pass. The user's model is only read: its current weights are assigned to
the copy's variables before every computation (`sync`), and the gradients are taken w.r.t. the
copy's kernels. The copies are kept in the per-model cache of `vis.copies` (key `("pss", ...)`),
so that every `ParameterSaliency` of a model with the same configuration shares one, and are
freed with the model or by `vis.release(model)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from vis import copies
from vis.pss._kernels import KernelSpec
from vis.pss._losses import LossPlan, is_graph_model
from vis.utils.model import _clone_layer, iter_layers

__all__ = ["WorkingCopy", "CopyError"]


class CopyError(ValueError):
    """The model could not be copied (e.g. a layer cannot be re-created from its config)."""


class WorkingCopy:
    """The model that is differentiated: a copy of a Functional/Sequential model, or the model.

    A copy is made only when needed (to drop the final softmax, or to expose taps); otherwise the
    user's model itself is differentiated (it is only read).

    Args:
        model: The user's model (never modified).
        specs: The kernels that are scored.
        plan: How the loss is computed (whether the final softmax is dropped).
        taps: Expose the input and the pre-activation output of every scored layer.

    Attributes:
        model: The model to call: outputs `[model output, *tap inputs, *tap outputs]` with taps,
            the model output otherwise.
        tap_specs: For every tap, the index into `specs` of its kernel.
    """

    def __init__(self, model, specs: Sequence[KernelSpec], plan: LossPlan, taps: bool):
        self.tap_specs: list[int] = []
        self._copy: _TransformedCopy | None = None
        if not (plan.strip_softmax or taps):
            self.model = model
            self.layers = dict(iter_layers(model))
            return
        if not is_graph_model(model):
            raise CopyError(
                f"A subclassed model ({type(model).__name__!r}) cannot be copied; pass "
                "loss='logits' or loss='probabilities' and gradient_method='vmap'."
            )
        try:
            inputs, outputs = model.inputs, model.outputs
        except (AttributeError, ValueError) as error:
            raise ValueError(
                f"Model {model.name!r} is not built: call it on data or build it with an "
                "`keras.Input` before computing parameter-space saliency."
            ) from error
        if inputs is None or outputs is None or len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(
                "Parameter-space saliency needs a model with one input and one output; model "
                f"{model.name!r} has {len(inputs or [])} inputs and {len(outputs or [])} outputs."
            )
        strip = plan.output_layer if plan.strip_softmax else None
        tapped = tuple(spec.path for spec in specs) if taps else None
        # the copy's variables belong to the strategy whose scope it is made in
        key = ("pss", None if strip is None else id(strip), tapped, tf.distribute.get_strategy())
        self._copy = copies.cached(model, key, lambda: _TransformedCopy(model, specs, strip, taps))
        self.model, self.layers = self._copy.model, self._copy.layers
        self.tap_specs = list(self._copy.tap_specs)
        self._copy.sync()

    def sync(self) -> None:
        """Copies the user's current weights into the copy (no-op without a copy)."""
        if self._copy is not None:
            self._copy.sync()

    def kernel(self, spec: KernelSpec):
        """The kernel variable of `spec` in the model that is differentiated."""
        return getattr(self.layers[spec.path], spec.attr)

    def layer(self, spec: KernelSpec):
        """The layer of `spec` in the model that is differentiated."""
        return self.layers[spec.path]


class _TransformedCopy(copies.SyncedCopy):
    """The copy of `model` without its final softmax (`strip`) and with taps on the scored layers.

    Tapped layers are cloned with a linear activation and followed by their activation, so that
    their pre-activation output is a tensor of the graph.
    """

    def __init__(self, model, specs: Sequence[KernelSpec], strip, taps: bool):
        tapped = {}
        if taps:
            by_path = {spec.path: index for index, spec in enumerate(specs)}
            tapped = {id(layer): by_path[path] for path, layer in iter_layers(model)
                      if path in by_path}
        originals: dict[int, keras.layers.Layer] = {}
        records: list[tuple[int, object, object]] = []
        def clone_function(operation):
            linear = id(operation) in tapped or (
                operation is strip and hasattr(operation, "activation")
            )
            if linear:
                clone = operation.__class__.from_config(
                    dict(operation.get_config(), activation="linear")
                )
            elif operation is strip and isinstance(operation, keras.layers.Layer):
                # A Softmax layer (also inside nested Sequential models, which are cloned
                # without `call_function`): an Identity keeps the logits.
                clone = keras.layers.Identity(name=operation.name, dtype=operation.dtype_policy)
            else:  # layers (Lambda included) and `keras.ops` operations
                clone = _clone_layer(operation)
            originals[id(clone)] = operation
            return clone

        def call_function(operation, *args, **kwargs):
            original = originals.get(id(operation))
            if original is strip and not hasattr(original, "activation"):
                return args[0]  # a Softmax layer or a `keras.ops.softmax` op: keep the logits
            outputs = operation(*args, **kwargs)
            if original is None or id(original) not in tapped:
                return outputs
            records.append((tapped[id(original)], args[0], outputs))
            if original is strip or original.activation is None:
                return outputs
            if getattr(original.activation, "__name__", "") == "linear":
                return outputs
            return keras.layers.Activation(original.activation, dtype=original.dtype_policy)(
                outputs
            )

        graph = keras.Model(model.inputs[0], model.outputs[0], name=model.name)
        try:
            super().__init__(graph, clone_function, call_function, source=model)
        except (TypeError, ValueError) as error:  # a layer that cannot be re-created
            raise CopyError(
                f"Could not copy model {model.name!r} ({type(error).__name__}: {error})"
            ) from error
        self.tap_specs = [index for index, _, _ in records]
        if taps:
            copy = self.model
            self.model = keras.Model(
                copy.inputs[0],
                [copy.outputs[0]] + [r[1] for r in records] + [r[2] for r in records],
                name=f"{model.name}_pss",
            )
