"""The model that parameter-space saliency differentiates, run statelessly on the user's weights.

For a Functional/Sequential model this is a copy (`vis.copies.ModelCopy`: the layers rebuilt from
their configs, the variables linked to the user's, taps on every layer) that can drop the model's
final softmax, so that the cross-entropy is formed from logits, and can split every scored
Conv/Dense layer from its activation, so that the layer's recorded output is its pre-activation
value ("taps"): from a layer's input and the gradient w.r.t. that output, the per-sample kernel
gradient of a whole batch follows from one forward and one backward pass. The copy runs on the
user's *current* variable values (`keras.Model.stateless_call`, the same on TensorFlow, JAX and
PyTorch): nothing is copied per call, and gradients w.r.t. the kernels are gradients w.r.t. those
values. The copies are kept in the per-model cache of `vis.copies` (key `("pss", ...)`), so that
every `ParameterSaliency` of a model with the same configuration shares one, and are freed with
the model or by `vis.release(model)`. A model that needs no copy (no softmax to drop, no taps) is
itself run statelessly.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

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
    user's model itself is run (statelessly: it is only read).

    Args:
        model: The user's model (never modified).
        specs: The kernels that are scored.
        plan: How the loss is computed (whether the final softmax is dropped).
        taps: Expose the input and the pre-activation output of every scored layer.

    Attributes:
        model: The model that is run (the copy, or the user's model).
        tap_paths: The paths of the tapped layers, one per scored kernel with a tap.
        tap_specs: For every tap, the index into `specs` of its kernel.
    """

    def __init__(self, model, specs: Sequence[KernelSpec], plan: LossPlan, taps: bool):
        self.tap_specs: list[int] = []
        self.tap_paths: list[str] = []
        self._copy: _TransformedCopy | None = None
        self._source = model
        if not (plan.strip_softmax or taps):
            self.model = model
            self.layers = dict(iter_layers(model))
            self._kernels = [getattr(self.layers[s.path], s.attr) for s in specs]
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
        key = ("pss", None if strip is None else id(strip), tapped)
        self._copy = copies.cached(model, key, lambda: _TransformedCopy(model, specs, strip, taps))
        self.model, self.layers = self._copy.model, self._copy.layers
        self.tap_specs = list(self._copy.tap_specs)
        self.tap_paths = [specs[i].path for i in self.tap_specs]
        self._kernels = [getattr(self.layers[s.path], s.attr) for s in specs]

    def variables(self) -> tuple[list, list]:
        """The user's `(trainable, non_trainable)` variables, in the order `call` expects."""
        if self._copy is not None:
            return self._copy.variables()
        return list(self.model.trainable_variables), list(self.model.non_trainable_variables)

    def _slots(self) -> list[tuple[int, int]]:
        """`(0 trainable | 1 non-trainable, index)` of each scored kernel among the values."""
        order = (self.model.trainable_variables, self.model.non_trainable_variables)
        where = {id(v): (group, i) for group, variables in enumerate(order)
                 for i, v in enumerate(variables)}
        missing = [k.path for k in self._kernels if id(k) not in where]
        if missing:
            raise CopyError(f"The kernel {missing[0]!r} is not a variable of the model.")
        return [where[id(k)] for k in self._kernels]

    def sync(self) -> None:
        """Nothing to do: the copy runs on the user's current values (kept for compatibility)."""

    def call(self, values, x, hooks: dict | None = None):
        """Runs the model on `x` with the weights `values`; returns `(output, recorded)`.

        `recorded` holds every layer's input (`path + vis.copies.INPUT`) and output (`path`) of a
        copy (empty for the user's own model); `hooks` (`{path: fn}`, copies only) replace layer
        outputs, e.g. to differentiate w.r.t. them.
        """
        if self._copy is not None:
            return self._copy.forward(values, x, hooks)
        if hooks:
            raise ValueError("Hooks need a copy of the model.")
        outputs, _ = self.model.stateless_call(list(values[0]), list(values[1]), x,
                                               training=False)
        return outputs, {}

    def kernel_values(self, values) -> list:
        """The values of the scored kernels among `values` (what `call` runs on)."""
        return [values[group][index] for group, index in self._slots()]

    def with_kernels(self, values, kernels: Sequence) -> tuple[list, list]:
        """`values` with the scored kernels replaced by `kernels`."""
        groups = [list(values[0]), list(values[1])]
        for (group, index), kernel in zip(self._slots(), kernels):
            groups[group][index] = kernel
        return groups[0], groups[1]

    def kernel(self, spec: KernelSpec):
        """The kernel variable of `spec` in the model that is run."""
        return getattr(self.layers[spec.path], spec.attr)

    def layer(self, spec: KernelSpec):
        """The layer of `spec` in the model that is run."""
        return self.layers[spec.path]


class _TransformedCopy(copies.ModelCopy):
    """The copy of `model` without its final softmax (`strip`) and with taps on the scored layers.

    Tapped layers are cloned with a linear activation and followed by their activation, so that
    their recorded output is the pre-activation value.
    """

    def __init__(self, model, specs: Sequence[KernelSpec], strip, taps: bool):
        tapped = {}
        if taps:
            by_path = {spec.path: index for index, spec in enumerate(specs)}
            tapped = {id(layer): by_path[path] for path, layer in iter_layers(model)
                      if path in by_path}
        originals: dict[int, keras.layers.Layer] = {}
        records: list[int] = []

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
            records.append(tapped[id(original)])
            if original is strip or original.activation is None:
                return outputs
            if getattr(original.activation, "__name__", "") == "linear":
                return outputs
            return keras.layers.Activation(original.activation, dtype=original.dtype_policy)(
                outputs
            )

        graph = keras.Model(model.inputs[0], model.outputs[0], name=model.name)
        try:
            super().__init__(graph, None, clone_function, call_function, source=model)
        except (TypeError, ValueError) as error:  # a layer that cannot be re-created
            raise CopyError(
                f"Could not copy model {model.name!r} ({type(error).__name__}: {error})"
            ) from error
        self.tap_specs = records
