"""The one model-copy mechanism of vis: structural copies with taps, run on the user's weights.

Everything in vis that needs more than the user's model's own forward pass (gradient overrides,
intermediate activations, per-layer statistics, randomized weights) works on a *copy*: new layer
objects built from the layers' configs, so that the user's model, its layers, activations and
attributes are never modified.

- `copy_model(model, clone_function=None, call_function=None)`: a detached structural copy
  with the weights copied in (optionally transformed while it is cloned).
- `SyncedCopy`: a copy whose variables are linked to the user's, one by one: `sync()` loads the
  user's current weights into the copy (for consumers that change the copy's weights, such as
  the sanity checks, or differentiate w.r.t. them, such as `vis.pss`), `variables()` lists the
  user's variables in the copy's order. Adapted `Normalization` layers of every copy read their
  statistics from their variables at call time, so a re-`adapt()` of the user's layer is seen.
- `ModelCopy`: a `SyncedCopy` with a backprop modifier applied and *taps* on every layer. Its
  `forward` runs the copy statelessly on the user's current weights (`keras.Model.stateless_call`):
  no weights are copied per call, a model trained further is explained as it is now, and the
  same code runs on the TensorFlow, JAX and PyTorch backends. During a forward pass the taps record,
  in thread-local storage, every layer's input, output and pre-activation value, and can change
  a layer's output (`hooks`: how gradients w.r.t. intermediate layers are taken).
- `get_copy` / `cached`: one weak-keyed cache per user model, bounded and least recently used
  first out, shared by the engine (keys `("engine", ...)`), `vis.pattern` (`("pattern", ...)`),
  `vis.pss` (`("pss", ...)`) and `vis.sanity` (`("sanity",)`); `release` (`vis.release`) frees
  all of it.
"""

from __future__ import annotations

import inspect
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from vis.utils.model import (
    channel_axis,
    clone_with_pairs,
    copy_model,
    copy_weights,
    ends_in_softmax,
    is_subclassed,
    iter_layers,
    model_channel_axis,
    record_shape,
    resolve_layer,
    terminal_layer,
)

__all__ = ["SyncedCopy", "ModelCopy", "copy_model", "get_copy", "cached", "copies_of", "release",
           "structure_signature", "weights_digest", "MAX_COPIES_PER_MODEL", "PRE", "INPUT"]

# Copies kept per user model (one per backprop modifier and per consumer), least recently used
# dropped first: PatternNet modifiers with new patterns, one per sanity-check step, each need one.
MAX_COPIES_PER_MODEL = 8

PRE = ":pre"  # key suffix: a layer's pre-activation value (a softmax layer's logits)
INPUT = ":input"  # key suffix: a layer's (first) input
PRE_SOFTMAX = PRE  # the name the engine used before


class _Taps(threading.local):
    """The per-thread recording state of one copy (a `MirroredStrategy` traces per thread)."""

    rec: dict | None = None
    hooks: dict | None = None
    calls: dict | None = None


def _tapped_call(call: Callable, taps: _Taps, path: str, input_is_pre: bool) -> Callable:
    def wrapped(*args, **kwargs):
        rec = taps.rec
        if rec is None:  # not inside `ModelCopy.forward`: a plain call
            return call(*args, **kwargs)
        first = args[0] if args else kwargs.get("inputs")
        rec[path + INPUT] = first
        if input_is_pre:
            rec[path + PRE] = first
        out = call(*args, **kwargs)
        hook = taps.hooks.get(path)
        if hook is not None:
            out = hook(out)
        taps.calls[path] = taps.calls.get(path, 0) + 1
        rec[path] = out
        return out

    return wrapped


def _tapped_activation(activation: Callable, taps: _Taps, path: str) -> Callable:
    def wrapped(z, *args, **kwargs):
        if taps.rec is not None:
            taps.rec[path + PRE] = z
        return activation(z, *args, **kwargs)

    wrapped.__name__ = getattr(activation, "__name__", "activation")
    return wrapped


def _live_normalization_call(layer: keras.layers.Normalization) -> Callable:
    """A Normalization call that reads mean and variance from its variables at every call.

    An adapted Normalization keeps them as constants computed in `finalize_state()`; a copy run
    statelessly on the user's variables would otherwise keep the values of the copy's creation
    and miss a later `adapt()` of the user's layer.
    """
    original = layer.call

    def call(inputs, *args, **kwargs):
        if getattr(layer, "input_mean", None) is not None or not hasattr(layer, "adapt_mean"):
            return original(inputs, *args, **kwargs)
        shape = layer._broadcast_shape
        dtype = layer.compute_dtype
        mean = keras.ops.cast(keras.ops.reshape(layer.adapt_mean, shape), dtype)
        variance = keras.ops.cast(keras.ops.reshape(layer.adapt_variance, shape), dtype)
        inputs = keras.ops.cast(inputs, dtype)
        scale = keras.ops.maximum(keras.ops.sqrt(variance), keras.config.epsilon())
        if layer.invert:
            return mean + inputs * scale
        return (inputs - mean) / scale

    return call


class SyncedCopy:
    """A copy of a user model whose variables are linked, one by one, to the user's variables.

    The copy is made from the layers' configs (`vis.utils.model.clone_with_pairs`), optionally
    transformed while it is cloned, and starts with the user's weights. Every variable of the
    copy is linked to the variable of the user's layer it was cloned from (weakly: a copy never
    keeps a user's model alive), so `sync()` loads the user's *current* weights into the copy,
    variable to variable, whatever the order of the copy's layers. Adapted `Normalization`
    layers of the copy read their mean and variance from their variables at every call.

    Args:
        model: The model to copy: the user's model, or a Functional view of its layers (pass
            the user's model as `source` then).
        clone_function: `fn(layer) -> new layer` (see `vis.utils.model.clone_with_pairs`).
            Defaults to `None` (rebuilt from the config).
        call_function: `fn(layer, *args, **kwargs) -> outputs` used while cloning a Functional
            model (see `keras.models.clone_model`). Defaults to `None`.
        source: The user's model, if `model` is a view of it. Defaults to `None` (`model`).

    Attributes:
        model: The copied `keras.Model` (owned by vis).
        source: A weak reference to the user's model.
        layers: `{path: layer}` of the copy (see `vis.utils.model.iter_layers`).

    Raises:
        TypeError: If the model cannot be copied (subclassed models, layers that cannot be
            re-created) or a copied layer's variables do not line up with the original's.

    Example:
        >>> copy = SyncedCopy(model)
        >>> copy.model.layers[-1].kernel.assign(np.zeros(copy.model.layers[-1].kernel.shape))
        >>> copy.sync()  # the user's weights again
    """

    def __init__(self, model: keras.Model, clone_function: Callable | None = None,
                 call_function: Callable | None = None, source: keras.Model | None = None):
        source = model if source is None else source
        self.source = weakref.ref(source)
        self.model, pairs = clone_with_pairs(model, clone_function, call_function)
        copy_weights(pairs)
        self._links: dict[int, tuple[Any, weakref.ref]] = {}
        self._refs: tuple[list, list] | None = None
        for original, clone in pairs:
            theirs = list(getattr(original, "variables", []))
            mine = list(getattr(clone, "variables", []))
            if [tuple(v.shape) for v in mine] != [tuple(v.shape) for v in theirs]:
                raise TypeError(
                    f"Could not copy model {source.name!r}: the variables of layer "
                    f"{getattr(original, 'name', original)!r} do not line up with its copy's."
                )
            for dst, src in zip(mine, theirs):
                self._links[id(dst)] = (dst, weakref.ref(src))
        self.layers = dict(iter_layers(self.model))
        for layer in self.layers.values():
            if isinstance(layer, keras.layers.Normalization) and layer.built:
                layer.finalize_state()
                layer.call = _live_normalization_call(layer)

    def _user_variable(self, variable):
        link = self._links.get(id(variable))
        if link is None or link[0] is not variable:
            source = self.source()
            raise TypeError(
                f"Could not copy model {getattr(source, 'name', '?')!r}: the copy's variable "
                f"{variable.path!r} has no counterpart in the model (its weights do not line "
                "up with the copy's)."
            )
        return link[1]

    def variables(self) -> tuple[list, list]:
        """The user's model's current `(trainable, non_trainable)` variables, copy order.

        The variables the copy's `trainable_variables` / `non_trainable_variables` were copied
        from, in that order (what `keras.Model.stateless_call` of the copy expects).

        Returns:
            Two lists of `keras.Variable`s of the user's model.

        Raises:
            ReferenceError: If the user's model has been garbage collected.

        Example:
            >>> trainable, non_trainable = SyncedCopy(model).variables()
            >>> trainable[0] is model.trainable_variables[0]
            True
        """
        if self._refs is None:  # after construction: a modifier may have changed the copy
            self._refs = (
                [self._user_variable(v) for v in self.model.trainable_variables],
                [self._user_variable(v) for v in self.model.non_trainable_variables],
            )
        trainable, non_trainable = [r() for r in self._refs[0]], [r() for r in self._refs[1]]
        if self.source() is None or any(v is None for v in trainable + non_trainable):
            raise ReferenceError("The model of this copy has been garbage collected.")
        return trainable, non_trainable

    def sync(self) -> None:
        """Copies the user's current weights into the copy's own variables (variable to variable).

        Needed by consumers that run the copy on its own variables (the sanity checks randomize
        them, `vis.pss` differentiates w.r.t. them); `ModelCopy.forward` reads the user's
        weights directly.

        Raises:
            ReferenceError: If the user's model has been garbage collected.

        Example:
            >>> copy = SyncedCopy(model)
            >>> copy.sync()
        """
        for dst, ref in self._links.values():
            src = ref()
            if src is None:
                raise ReferenceError("The model of this copy has been garbage collected.")
            dst.assign(src.value)


class ModelCopy(SyncedCopy):
    """A copy of a user model with a backprop modifier and taps, run on the user's weights.

    Use `get_copy(model, backprop_modifier)` rather than the constructor: copies are cached.

    Args:
        model: The user's Keras model (never modified), or a Functional view of its layers
            (pass the user's model as `source` then).
        modifier: A `vis.backprop_modifiers.BackpropModifier` applied to the copy, or `None`.
        clone_function: `fn(layer) -> new layer`, transforming layers while they are cloned
            (see `SyncedCopy`). Defaults to `None`.
        call_function: `fn(layer, *args, **kwargs) -> outputs` used while cloning (see
            `SyncedCopy`). Defaults to `None`.
        source: The user's model, if `model` is a view of it. Defaults to `None` (`model`).

    Attributes:
        model: The copied `keras.Model` (owned by vis; its own variables are only used by
            `sync`, for consumers that change them, such as the sanity checks).
        source: A weak reference to the user's model.
        modifier: The backprop modifier (or `None`).
        overrides: How many gradient overrides the modifier installed.
        layers: `{path: layer}` of the copy (see `vis.utils.model.iter_layers`).
        functions: An LRU dict of compiled functions built on this copy (see `vis.engine`).

    Raises:
        TypeError: If `model` cannot be copied (subclassed models) or the copy's weights do not
            line up with the model's.

    Example:
        >>> copy = get_copy(model, "guided")
        >>> copy.model is model, copy.overrides
        (False, 3)
    """

    def __init__(self, model: keras.Model, modifier=None, clone_function: Callable | None = None,
                 call_function: Callable | None = None, source: keras.Model | None = None):
        super().__init__(model, clone_function, call_function, source)
        self.modifier = modifier
        self.overrides = modifier.apply(self.model) if modifier is not None else 0
        self._taps = _Taps()
        # a transformed copy (`clone_function`) has layers of its own: its paths are its own
        self.layers = (_layers_by_source_path(model, self.model) if clone_function is None
                       else dict(iter_layers(self.model)))
        for path, layer in self.layers.items():
            if isinstance(layer, keras.layers.InputLayer):
                continue
            input_is_pre = isinstance(layer, keras.layers.Softmax) or (
                isinstance(layer, keras.layers.Activation) and ends_in_softmax(layer)
            )
            layer.call = _tapped_call(layer.call, self._taps, path, input_is_pre)
            if not input_is_pre and getattr(layer, "activation", None) is not None and not (
                isinstance(layer, keras.layers.Activation)
            ):
                try:
                    layer.activation = _tapped_activation(layer.activation, self._taps, path)
                except AttributeError:  # a read-only property (recurrent layers' cells)
                    pass
        self.variables()  # every variable of the modified copy has its counterpart
        self.functions: OrderedDict[Any, Any] = OrderedDict()
        self.default_channel_axis = model_channel_axis(self.source())
        self._takes_training = _takes_keyword(self.model.call, "training")
        self.output_path = self._trace_subclassed(model) if is_subclassed(model) else None

    def _trace_subclassed(self, model: keras.Model) -> str | None:
        """For a subclassed model: one symbolic pass records every layer's output shape (its
        layers, called eagerly, have none) and finds the layer whose output the model returns."""
        from vis.inputs import input_specs

        spec = input_specs(model)[0]
        taps = self._taps
        taps.rec, taps.hooks, taps.calls = {}, {}, {}
        try:
            out = self.model(keras.KerasTensor(spec.shape, dtype=spec.dtype))
            rec = taps.rec
        finally:
            taps.rec = taps.hooks = taps.calls = None
        users = dict(iter_layers(model))
        for path, value in rec.items():
            if ":" not in path and hasattr(value, "shape") and path in self.layers:
                shape = (None,) + tuple(value.shape[1:])
                record_shape(self.layers[path], shape)
                record_shape(users[path], shape)
        outs = out if isinstance(out, (list, tuple)) else [out]
        if len(outs) != 1:
            return None
        # the last layer called whose output has the model output's shape (identities are lost
        # in the symbolic pass, which runs on backend placeholders)
        want = tuple(outs[0].shape[1:])
        called = [p for p in rec if ":" not in p and p in self.layers
                  and tuple(getattr(rec[p], "shape", ())[1:]) == want]
        return called[-1] if called else None

    # --- running the copy ------------------------------------------------------------------

    def forward(self, values, inputs, hooks: dict | None = None, training: bool = False):
        """Runs the copy on `inputs` with the weights `values`; returns `(outputs, recorded)`.

        Backend-neutral (`keras.Model.stateless_call`): call it inside a compiled function with
        `values` read from `variables()` (TensorFlow: the variables' values inside the graph;
        JAX: arrays passed to the jitted function).

        Args:
            values: `(trainable, non_trainable)` tensors, in the order of `variables()`.
            inputs: The model's input(s): one tensor, or a list matching `model.inputs`.
            hooks: `{path: fn}`: the output of layer `path` is replaced by `fn(output)` (e.g. to
                watch it on a gradient tape). Defaults to `None`.
            training: The `training` flag of the call. Defaults to `False`.

        Returns:
            `(outputs, recorded)`: the model's outputs and `{key: tensor}` with every layer's
            output (`path`), input (`path + INPUT`) and pre-activation value (`path + PRE`: a
            softmax layer's logits).

        Raises:
            ValueError: If a requested hook's layer is called several times (a shared layer).
        """
        taps = self._taps
        taps.rec, taps.hooks, taps.calls = {}, dict(hooks or {}), {}
        try:
            kwargs = {"training": training} if self._takes_training else {}
            outputs, _ = self.model.stateless_call(
                list(values[0]), list(values[1]), inputs, **kwargs
            )
            rec, calls = taps.rec, taps.calls
        finally:
            taps.rec = taps.hooks = taps.calls = None
        shared = sorted(p for p, n in calls.items() if n > 1)
        rec["__shared__"] = shared
        return outputs, rec

    # --- looking layers up -----------------------------------------------------------------

    def layer(self, layer_id, param: str = "layer_idx") -> tuple[str, keras.layers.Layer]:
        """Resolves `layer_id` on the *user's* model and returns `(path, copy's layer)`.

        A nested single-output model resolves to the inner layer computing its output.

        Args:
            layer_id: An index, name, nested path, layer object or layer output of the user's
                model (see `vis.utils.model.resolve_layer`).
            param: The argument name used in error messages. Defaults to `"layer_idx"`.

        Returns:
            `(path, layer)`: the layer's path and the copy's layer at that path.

        Raises:
            ValueError: If no such layer exists or it is an input layer.
            TypeError: If `layer_id` is of an unsupported type.

        Example:
            >>> path, layer = get_copy(model).layer(-1)
            >>> path, layer is model.layers[-1]
            ('predictions', False)
        """
        source = self.source()
        if self.output_path is not None and isinstance(layer_id, (int, np.integer)) and \
                not isinstance(layer_id, bool) and layer_id == -1:
            return self.output_path, self.layers[self.output_path]  # subclassed: the output
        path, layer = terminal_layer(*resolve_layer(source, layer_id, param))
        if isinstance(layer, keras.layers.InputLayer):
            raise ValueError(
                f"`{param}`: {path!r} is an input layer; choose a layer that computes something "
                "(for gradients w.r.t. the model input, leave `wrt_tensor=None`)."
            )
        return path, self.layers[path]

    def channel_axis(self, layer: keras.layers.Layer) -> int:
        """Returns the channel axis of a copy layer's output (`1` or `-1`).

        Layers without a data format (ReLU, Add, ...) follow the model's input format.

        Args:
            layer: A layer of the copy.

        Returns:
            `1` for channels-first, `-1` for channels-last.

        Example:
            >>> copy = get_copy(model)
            >>> copy.channel_axis(copy.layer("conv2")[1])
            -1
        """
        return channel_axis(layer, default=self.default_channel_axis)


class _OutputStub:
    """Stands for the output layer of a model vis cannot copy (its shape only)."""

    def __init__(self, shape: tuple):
        self.output = keras.KerasTensor(shape)
        self.name = DirectCopy.OUTPUT


class DirectCopy:
    """The user's model itself, for models vis cannot copy; run statelessly, never modified.

    A subclassed model whose class cannot be re-created from its config has no copy; it is
    run as it is (`stateless_call` on its current weights: nothing of it is changed) without
    taps. The gradient-, path- and perturbation methods work on its output; methods that need
    its layers (backprop modifiers, CAMs, PatternNet, LRP, `output=` a hidden layer) raise a
    `ValueError` that says so. Softmax outputs are explained as they are (probabilities), since
    the logits cannot be reached: return logits from `call` to explain those.

    Args:
        model: The user's model.
        reason: Why it cannot be copied (for error messages).
    """

    OUTPUT = "__output__"

    def __init__(self, model: keras.Model, reason: str):
        from vis.inputs import input_specs

        self.source = weakref.ref(model)
        self.reason = reason
        self.modifier = None
        self.overrides = 0
        self.functions: OrderedDict[Any, Any] = OrderedDict()
        self.default_channel_axis = model_channel_axis(model)
        self.output_path = self.OUTPUT
        self._takes_training = _takes_keyword(model.call, "training")
        spec = input_specs(model)[0]
        out = model.compute_output_spec(keras.KerasTensor(spec.shape, dtype=spec.dtype))
        if isinstance(out, (list, tuple, dict)):
            raise TypeError(f"{reason} (and it has several outputs)")
        self.layers = {self.OUTPUT: _OutputStub((None,) + tuple(out.shape[1:]))}

    def variables(self) -> tuple[list, list]:
        """The user's model's `(trainable, non_trainable)` variables."""
        source = self.source()
        if source is None:
            raise ReferenceError("The model has been garbage collected.")
        return list(source.trainable_variables), list(source.non_trainable_variables)

    def forward(self, values, inputs, hooks: dict | None = None, training: bool = False):
        """Runs the user's model statelessly; records its output only."""
        if hooks:
            raise ValueError(self.needs_layers("this method"))
        kwargs = {"training": training} if self._takes_training else {}
        outputs, _ = self.source().stateless_call(list(values[0]), list(values[1]), inputs,
                                                  **kwargs)
        return outputs, {self.OUTPUT: outputs, "__shared__": []}

    def needs_layers(self, what: str) -> str:
        """The message of the error a method that needs the model's layers raises."""
        source = self.source()
        return (f"{what} needs the layers of model {getattr(source, 'name', '?')!r}, which vis "
                f"cannot copy ({self.reason}); only its output can be explained, with methods "
                "that need no layers (gradient, gradient_x_input, integrated_gradients, "
                "smoothgrad, the perturbation methods).")

    def layer(self, layer_id, param: str = "layer_idx"):
        """Only `-1` (the model's output) can be resolved."""
        if isinstance(layer_id, (int, np.integer)) and not isinstance(layer_id, bool) \
                and layer_id == -1:
            return self.OUTPUT, self.layers[self.OUTPUT]
        raise ValueError(f"`{param}`={layer_id!r}: " + self.needs_layers("explaining a layer"))

    def channel_axis(self, layer) -> int:
        """The model's default channel axis."""
        return self.default_channel_axis

    def sync(self) -> None:
        """Nothing to synchronize: there is no copy."""
        raise TypeError(self.needs_layers("this function"))


def _takes_keyword(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return name in params or any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())


def _layers_by_source_path(source: keras.Model, copy: keras.Model) -> dict:
    """`{path in the user's model: the copy's layer}`.

    The copy's layers have the user's names, except in a re-created subclassed model (new
    automatic names): layers are then matched by position, which the copy preserves.
    """
    mine = list(iter_layers(copy))
    theirs = list(iter_layers(source))
    if [p for p, _ in mine] == [p for p, _ in theirs]:
        return dict(mine)
    if len(mine) != len(theirs) or any(type(a) is not type(b)
                                       for (_, a), (_, b) in zip(mine, theirs)):
        raise TypeError(f"Could not copy model {source.name!r}: its layers do not line up "
                        "with the copy's.")
    return {path: layer for (path, _), (_, layer) in zip(theirs, mine)}


# --- the cache ---------------------------------------------------------------------------------

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SIGNATURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()


def structure_signature(model: keras.Model) -> tuple:
    """A cheap signature of the parts of a model's architecture that can change in place.

    For every layer (nested models included): the layer object, its `activation` and any
    `call` set on the instance (identities only: no config is serialized). Setting
    `layer.activation = ...` or adding/removing layers changes it, so cached copies built from
    the old architecture are dropped and rebuilt (`cached`). Other in-place changes to a
    layer's attributes (e.g. `layer.padding`) are not seen: call `vis.release(model)` then.

    Args:
        model: A Keras model.

    Returns:
        A tuple of object ids (compare with `==`).

    Example:
        >>> before = structure_signature(model)
        >>> model.layers[-1].activation = keras.activations.linear
        >>> structure_signature(model) == before
        False
    """
    out = []
    stack = [model]
    while stack:
        layer = stack.pop()
        d = layer.__dict__
        out.append((id(layer), id(d.get("activation")), id(d.get("call"))))
        if isinstance(layer, keras.Model):
            stack.extend(reversed(layer.layers))
    return tuple(out)


def cached(model: keras.Model, key: Any, factory: Callable[[], Any]) -> Any:
    """The object cached for `(model, key)`, made by `factory()` on first use.

    One bounded cache per user model (at most `MAX_COPIES_PER_MODEL` entries, least recently
    used dropped first), freed with the model or by `release`. Every consumer of copies (the
    engine, `vis.pattern`, `vis.pss`, `vis.sanity`) keeps its copies here.

    Args:
        model: The user's model (weakly referenced).
        key: A hashable key, unique per consumer and configuration.
        factory: Builds the object.

    Returns:
        The cached object.

    Example:
        >>> copy = cached(model, ("mine",), lambda: ModelCopy(model))
        >>> cached(model, ("mine",), lambda: None) is copy
        True
    """
    signature = structure_signature(model)
    with _LOCK:
        per_model = _CACHE.get(model)
        if per_model is None or _SIGNATURES.get(model) != signature:
            per_model = _CACHE[model] = OrderedDict()  # new, or the architecture changed
            _SIGNATURES[model] = signature
        obj = per_model.pop(key, None)
    if obj is None:
        obj = factory()
    with _LOCK:
        per_model[key] = obj  # most recently used last
        while len(per_model) > MAX_COPIES_PER_MODEL:
            per_model.popitem(last=False)
    return obj


def get_copy(model: keras.Model, backprop_modifier=None) -> ModelCopy:
    """The cached `ModelCopy` of `model` for `backprop_modifier` (built on first use).

    A modifier that overrides nothing in the model (e.g. `'guided'` on a model without
    rectifiers) triggers a `UserWarning` on every call: the map would be the vanilla gradient.

    Args:
        model: The user's Keras model (never modified).
        backprop_modifier: Anything `vis.backprop_modifiers.get` accepts. Defaults to `None`.

    Returns:
        The `ModelCopy`.

    Raises:
        TypeError: If `model` is not a `keras.Model`, cannot be copied, or `backprop_modifier`
            is of an unsupported type.
        ValueError: For an unknown modifier name.

    Example:
        >>> copy = get_copy(model, "guided")
        >>> get_copy(model, "guided") is copy, get_copy(model) is copy
        (True, False)
    """
    from vis import backprop_modifiers

    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    modifier = backprop_modifiers.get(backprop_modifier)
    key = ("engine", None if modifier is None else modifier.cache_key)
    copy = cached(model, key, lambda: _make_copy(model, modifier))
    if modifier is not None and copy.overrides == 0:
        warnings.warn(
            f"backprop_modifier {modifier.name!r} found nothing to override in model "
            f"{model.name!r}: it changes nothing and the map equals the vanilla gradient.",
            UserWarning,
            stacklevel=3,
        )
    return copy


def _make_copy(model: keras.Model, modifier):
    try:
        return ModelCopy(model, modifier)
    except TypeError as exc:
        if not is_subclassed(model):
            raise
        if modifier is not None:
            raise ValueError(
                f"backprop_modifier {modifier.name!r} needs a copy of model {model.name!r} to "
                f"change its gradients, and vis cannot copy it: {exc}"
            ) from None
        return DirectCopy(model, str(exc))


def copies_of(model: keras.Model) -> list:
    """The objects cached for `model` (least recently used first); for tests and diagnostics.

    Args:
        model: The user's model.

    Returns:
        A list (empty when nothing is cached).
    """
    with _LOCK:
        return list(_CACHE.get(model, {}).values())


def release(model: keras.Model | None = None) -> None:
    """Frees every copy and compiled function vis keeps for `model` (for every model if `None`).

    The one release of vis (`vis.release`, also `vis.pattern.release` and
    `vis.engine.release`): the engine's copies (gradients, scores, activations of every method),
    the streamers of `vis.pattern.fit_patterns` / `signal_quality`, the copies of `vis.pss`
    and the working copies of the sanity checks all live in this one cache. Objects that hold a
    copy themselves (a `ParameterSaliency`) keep it. Copies are also freed automatically when the
    model is garbage collected. Copies are built once from the layers' configs: new weights and
    a re-`adapt()` are seen as they are, a new `layer.activation` (or added / removed layers)
    is detected and the copies rebuilt (`structure_signature`); call it after other in-place
    changes to a layer's attributes (e.g. `layer.padding`).

    Args:
        model: The user's model. Defaults to `None` (every model).

    Example:
        >>> import vis
        >>> vis.release(model)
    """
    with _LOCK:
        if model is None:
            _CACHE.clear()
            _SIGNATURES.clear()
        else:
            _CACHE.pop(model, None)
            _SIGNATURES.pop(model, None)


def weights_digest(model: keras.Model) -> str:
    """A hex digest of a model's weights (for tests that check a model is untouched).

    Args:
        model: A Keras model.

    Returns:
        A SHA-256 hex digest of all weight values, shapes and dtypes, in order.

    Example:
        >>> before = weights_digest(model)
        >>> _ = get_copy(model)
        >>> weights_digest(model) == before
        True
    """
    import hashlib

    h = hashlib.sha256()
    for w in model.weights:
        a = np.asarray(keras.ops.convert_to_numpy(w.value))
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()
