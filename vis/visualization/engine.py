"""The gradient engine every method shares: a cached, compiled `d score / d wrt` on a model copy.

For each user model, vis keeps (in a weak-keyed cache, so it goes away with the model) one copy per
backprop modifier. A copy has new layer objects whose weights are synchronised from the user's
model inside every compiled call (so a model trained further is explained as it is now), the
modifier's gradient overrides, and recording hooks that capture every layer's output (and the
pre-softmax logits of softmax layers) during the forward pass. Gradient functions are compiled
once per (copy, losses, wrt layer) with a `None` batch dimension and reused: calls with new inputs,
batch sizes or target indices do not retrace.

The user's model is never modified: not its weights, layers, activations or attributes.
"""

from __future__ import annotations

import warnings
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from vis import backprop_modifiers
from vis.losses import Loss
from vis.utils.compiled import compile_function
from vis.utils.model import (
    channel_axis,
    copy_model,
    ends_in_softmax,
    iter_layers,
    model_channel_axis,
    output_shape,
    resolve_layer,
    terminal_layer,
)

__all__ = ["ModelCopy", "get_copy", "release", "prepare_input", "gradients", "PRE_SOFTMAX"]

# Copies kept per user model: one per backprop modifier, least recently used dropped first
# (PatternNet modifiers with new patterns, e.g. one per sanity-check step, each need a copy).
MAX_COPIES_PER_MODEL = 8
# Compiled functions kept per copy (one per distinct set of losses and wrt layer).
MAX_FUNCTIONS_PER_COPY = 32

PRE_SOFTMAX = ":pre_softmax"


class _Recorder(dict):
    """Holds the tensors recorded during one forward pass of a copy."""


def _recording_call(call, recorder: _Recorder, path: str, record_input: bool):
    def wrapped(*args, **kwargs):
        if record_input:
            recorder[path + PRE_SOFTMAX] = args[0] if args else kwargs["inputs"]
        out = call(*args, **kwargs)
        recorder[path] = out
        return out

    return wrapped


def _recording_activation(activation, recorder: _Recorder, key: str):
    def wrapped(z, *args, **kwargs):
        recorder[key] = z
        return activation(z, *args, **kwargs)

    wrapped.__name__ = getattr(activation, "__name__", "activation")
    return wrapped


class ModelCopy:
    """A copy of a user model with a backprop modifier applied and recording hooks installed.

    Use `get_copy(model, backprop_modifier)` rather than the constructor: copies are cached.

    Args:
        model: The user's single-input Keras model (never modified).
        modifier: A `BackpropModifier` (applied to the copy), or `None`.

    Attributes:
        model: The copied `keras.Model` (owned by vis).
        source: A weak reference to the user's model.
        modifier: The `BackpropModifier` (or `None`).
        overrides: How many gradient overrides the modifier installed.
        layers: `{path: layer}` of the copy (see `vis.utils.model.iter_layers`).

    Raises:
        ValueError: If `model` has several inputs.
        TypeError: If `model` cannot be copied (subclassed models) or the copy's weights do not
            line up with the model's.

    Example:
        >>> copy = get_copy(model, "guided")
        >>> copy.model is model, copy.overrides
        (False, 3)
    """

    def __init__(self, model: keras.Model, modifier: backprop_modifiers.BackpropModifier | None):
        if len(model.inputs) != 1:
            raise ValueError(
                f"`model` has {len(model.inputs)} inputs; vis explains single-input models."
            )
        self.source = weakref.ref(model)
        self.modifier = modifier
        self.model = copy_model(model)
        self.overrides = modifier.apply(self.model) if modifier is not None else 0
        self.recorder = _Recorder()
        self.layers = dict(iter_layers(self.model))  # path -> the copy's layer
        for path, layer in self.layers.items():
            if isinstance(layer, keras.layers.InputLayer):
                continue
            record_input = isinstance(layer, keras.layers.Softmax) or (
                isinstance(layer, keras.layers.Activation) and ends_in_softmax(layer)
            )
            layer.call = _recording_call(layer.call, self.recorder, path, record_input)
            if not record_input and ends_in_softmax(layer):
                layer.activation = _recording_activation(
                    layer.activation, self.recorder, path + PRE_SOFTMAX
                )
        src_vars = list(model.weights)
        dst_vars = list(self.model.weights)
        if [tuple(v.shape) for v in src_vars] != [tuple(v.shape) for v in dst_vars]:
            raise TypeError(f"Could not copy model {model.name!r}: its weights do not line up.")
        self._pairs = list(zip(dst_vars, src_vars))
        self._functions: OrderedDict[Any, Any] = OrderedDict()
        self.input_shape = tuple(model.inputs[0].shape)
        self.input_dtype = model.inputs[0].dtype
        self.default_channel_axis = model_channel_axis(model)

    def sync(self) -> None:
        """Copies the user's current weights into the copy (inside a compiled call: on device).

        Every compiled gradient function calls it first, so a model trained further is
        explained with its current weights; call it directly to use `copy.model` eagerly.

        Example:
            >>> copy = get_copy(model)
            >>> copy.sync()
        """
        for dst, src in self._pairs:
            dst.assign(src.value)

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
        path, layer = terminal_layer(*resolve_layer(source, layer_id, param))
        if isinstance(layer, keras.layers.InputLayer):
            raise ValueError(
                f"`{param}`: {path!r} is an input layer; choose a layer that computes something "
                "(for gradients w.r.t. the model input, leave `wrt_tensor=None`)."
            )
        return path, self.layers[path]

    def channel_axis(self, layer: keras.layers.Layer) -> int:
        """Returns the channel axis of a copy layer's output.

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

    def function(self, losses: Sequence[tuple[Loss, float]], wrt_path: str | None, n: int):
        """Returns the compiled gradient function for these losses and its run-time arrays.

        The function is built on first use and cached per (losses' `cache_key`s, `wrt_path`);
        new inputs, batch sizes or targets reuse it without retracing. Prefer `gradients`,
        which validates, batches and checks the results.

        Args:
            losses: `(Loss, weight)` pairs.
            wrt_path: Path of the layer to differentiate against (see `resolve_wrt`), or
                `None` for the model input.
            n: The number of samples the targets are built for.

        Returns:
            `(fn, arrays)`: `fn(x, weights, *targets) -> (scores, grads, wrt_values)`, and
            `arrays = [weights, *targets]` (NumPy) for a batch of `n` samples.

        Raises:
            ValueError: For unknown layers or target indices out of range.
            TypeError: For malformed `filter_indices` or layer identifiers.

        Example:
            >>> from vis.losses import ActivationMaximization
            >>> loss = ActivationMaximization("predictions", 3)
            >>> fn, arrays = get_copy(model).function([(loss, 1.0)], None, n=len(x))
            >>> scores, grads, _ = fn(tf.constant(x), *map(tf.constant, arrays))
            >>> grads.shape == x.shape
            True
        """
        specs, targets = [], []
        for loss, _ in losses:
            path, layer = self.layer(loss.layer, "layer_idx")
            key = path + PRE_SOFTMAX if (loss.pre_softmax and ends_in_softmax(layer)) else path
            out_shape = output_shape(layer)
            caxis = self.channel_axis(layer)
            target = loss.target(n, out_shape, caxis)
            if target is not None:
                target = np.asarray(target)
                targets.append(target)
            target_spec = (
                None
                if target is None
                else tf.TensorSpec((None,) + tuple(np.shape(target)[1:]), tf.as_dtype(target.dtype))
            )
            specs.append((loss, key, caxis, out_shape, target_spec))
        cache_key = (tuple(s[0].cache_key() for s in specs), wrt_path)
        fn = self._functions.pop(cache_key, None)
        if fn is None:
            fn = self._build(specs, wrt_path)
        self._functions[cache_key] = fn  # most recently used last
        while len(self._functions) > MAX_FUNCTIONS_PER_COPY:
            self._functions.popitem(last=False)
        weights = np.asarray([float(w) for _, w in losses], dtype="float32")
        return fn, [weights] + targets

    def _build(self, specs, wrt_path: str | None):
        x_spec = tf.TensorSpec((None,) + self.input_shape[1:], self.input_dtype)
        target_specs = [s[4] for s in specs if s[4] is not None]
        weight_spec = tf.TensorSpec((len(specs),), tf.float32)
        model, recorder = self.model, self.recorder

        def fn(x, weights, *targets):
            self.sync()
            targets = list(targets)
            with tf.GradientTape() as tape:
                tape.watch(x)
                recorder.clear()
                model(x, training=False)
                score = None
                for i, (loss, key, caxis, _, target_spec) in enumerate(specs):
                    t = targets.pop(0) if target_spec is not None else None
                    value = loss(_single(recorder[key], key), t, caxis)
                    value = -tf.cast(weights[i], value.dtype) * value
                    score = value if score is None else score + value
                total = tf.reduce_sum(score)
            wrt = x if wrt_path is None else _single(recorder[wrt_path], wrt_path)
            grads = tape.gradient(total, wrt)
            if grads is None:
                # Known at trace time. Raising here would come back wrapped in TensorFlow's
                # "in user code" traceback text, so the error is raised after the call instead.
                target_names = sorted({s[1] for s in specs})
                compiled.no_gradient_path = (
                    f"The score of layer(s) {target_names} has no gradient path to "
                    f"{'the input' if wrt_path is None else repr(wrt_path)} (disconnected graph or "
                    "stop_gradient): there is nothing to explain."
                )
                grads = tf.zeros_like(wrt)
            recorder.clear()
            return score, grads, wrt

        compiled = compile_function(fn, [x_spec, weight_spec, *target_specs])
        compiled.no_gradient_path = None
        return compiled


def _single(value, key: str):
    """A layer's recorded output; a one-element list (single-output sub-model) is unwrapped."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(
                f"Layer {key!r} has {len(value)} outputs; vis explains single-output layers."
            )
        return value[0]
    return value


_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def get_copy(model: keras.Model, backprop_modifier=None) -> ModelCopy:
    """The cached `ModelCopy` of `model` for `backprop_modifier` (built on first use).

    A modifier that overrides nothing in the model (e.g. `'guided'` on a model without
    rectifiers) triggers a `UserWarning` on every call: the map would be the vanilla gradient.
    At most `MAX_COPIES_PER_MODEL` copies are kept per model (least recently used dropped).

    Args:
        model: The user's Keras model (never modified).
        backprop_modifier: Anything `vis.backprop_modifiers.get` accepts. Defaults to `None`.

    Returns:
        The `ModelCopy`.

    Raises:
        TypeError: If `model` is not a `keras.Model`, cannot be copied, or `backprop_modifier`
            is of an unsupported type.
        ValueError: For an unknown modifier name or a model with several inputs.

    Example:
        >>> copy = get_copy(model, "guided")
        >>> get_copy(model, "guided") is copy, get_copy(model) is copy
        (True, False)
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    modifier = backprop_modifiers.get(backprop_modifier)
    per_model = _COPIES.setdefault(model, OrderedDict())
    key = None if modifier is None else modifier.cache_key
    copy = per_model.pop(key, None)
    if copy is None:
        copy = ModelCopy(model, modifier)
    per_model[key] = copy  # most recently used last
    while len(per_model) > MAX_COPIES_PER_MODEL:
        per_model.popitem(last=False)
    if modifier is not None and copy.overrides == 0:
        warnings.warn(
            f"backprop_modifier {modifier.name!r} found nothing to override in model "
            f"{model.name!r}: it changes nothing and the map equals the vanilla gradient.",
            UserWarning,
            stacklevel=3,
        )
    return copy


def release(model: keras.Model | None = None) -> None:
    """Drops the cached copies and compiled functions of `model` (of every model if `None`).

    They are also dropped automatically when the model is garbage collected.

    Args:
        model: The user's model. Defaults to `None` (every model).

    Example:
        >>> release(model)
    """
    if model is None:
        _COPIES.clear()
    else:
        _COPIES.pop(model, None)


def prepare_input(model: keras.Model, seed_input, param: str = "seed_input") -> tuple[np.ndarray, bool]:
    """Validates `seed_input` against the model's input and adds a batch axis if needed.

    Args:
        model: The Keras model.
        seed_input: One sample (no batch axis) or a batch.
        param: Name used in error messages. Defaults to `"seed_input"`.

    Returns:
        `(batch, single)`: a float array with a batch axis, and whether the input was one sample.

    Raises:
        ValueError: On a wrong rank or shape, NaN/inf values, an empty batch, or a model that
            is not built or has several inputs.
        TypeError: If `model` is not a Keras model, or the input cannot be converted to a real
            numeric array.

    Example:
        >>> batch, single = prepare_input(model, x[0])
        >>> batch.shape, single
        ((1, 8, 8, 1), True)
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"`model` {model.name!r} is not built: give it an `keras.Input` (or call it on data) "
            "before explaining it."
        )
    if len(inputs) != 1:
        raise ValueError(f"`model` has {len(inputs)} inputs; vis explains single-input models.")
    try:
        x = np.asarray(seed_input)
    except Exception as exc:
        raise TypeError(f"`{param}` must be array-like, got {type(seed_input).__name__}.") from exc
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise TypeError(f"`{param}` must hold real numbers, got dtype {x.dtype}.")
    expected = tuple(model.inputs[0].shape)
    dtype = np.dtype(model.inputs[0].dtype)
    if x.ndim == len(expected) - 1:
        x, single = x[None], True
    elif x.ndim == len(expected):
        single = False
    else:
        raise ValueError(
            f"`{param}` has shape {x.shape}, but the model expects one sample of shape "
            f"{expected[1:]} or a batch of shape {expected}."
        )
    for got, want in zip(x.shape[1:], expected[1:]):
        if want is not None and got != want:
            raise ValueError(
                f"`{param}` has shape {x.shape}, but the model expects one sample of shape "
                f"{expected[1:]} or a batch of shape {expected}."
            )
    if x.shape[0] == 0:
        raise ValueError(f"`{param}` is an empty batch.")
    x = x.astype(dtype if np.issubdtype(dtype, np.floating) else "float32", copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`{param}` contains NaN or inf values; explanations need finite input.")
    return x, single


def resolve_wrt(copy: ModelCopy, wrt_tensor) -> str | None:
    """Returns the path of the layer whose output is `wrt_tensor` (`None`: the model input).

    Args:
        copy: The `ModelCopy` of the user's model.
        wrt_tensor: `None`, or a layer identifier of the user's model (index, name, path,
            layer or layer output); the model's own input layer means the input.

    Returns:
        The layer path, or `None` for the model input.

    Raises:
        ValueError: If no such layer exists.
        TypeError: If `wrt_tensor` is of an unsupported type.

    Example:
        >>> resolve_wrt(get_copy(model), "conv2")
        'conv2'
    """
    if wrt_tensor is None:
        return None
    source = copy.source()
    _, layer = resolve_layer(source, wrt_tensor, "wrt_tensor")
    if isinstance(layer, keras.layers.InputLayer) and layer in source.layers:
        return None  # the model's own input
    return copy.layer(wrt_tensor, "wrt_tensor")[0]


def gradients(
    model: keras.Model,
    losses: Sequence[tuple[Loss, float]],
    x: np.ndarray,
    wrt_tensor=None,
    backprop_modifier=None,
    batch_size: int | None = None,
    return_wrt: bool = False,
):
    """Per-sample scores and gradients of `-sum(weight * loss)` for a validated batch `x`.

    The building block of every method: `scores[i] = -sum_j weight_j * loss_j[i]` (for
    `ActivationMaximization`, the target activation or logit) and `grads[i] = d scores[i] /
    d wrt[i]`, computed by a cached compiled function on a model copy (see `get_copy`).

    Args:
        model: The user's model.
        losses: `(Loss, weight)` pairs.
        x: A batch, as returned by `prepare_input`.
        wrt_tensor: `None` (the input) or the layer whose output to differentiate against.
            Defaults to `None`.
        backprop_modifier: Anything `vis.backprop_modifiers.get` accepts. Defaults to `None`.
        batch_size: Evaluate in chunks of this many samples. Defaults to `None` (all at once).
        return_wrt: Also return the value of the `wrt` tensor. Defaults to `False`.

    Returns:
        `(scores, grads)` NumPy arrays (`scores` of shape `(N,)`), plus the `wrt` values when
        `return_wrt` is set.

    Raises:
        ValueError: For unknown layers, indices out of range, a bad `batch_size`, no gradient
            path from the losses to `wrt_tensor`, or NaN/inf gradients.
        TypeError: For arguments of unsupported types (model, modifier, filter indices).

    Example:
        >>> from vis.losses import ActivationMaximization
        >>> loss = ActivationMaximization("predictions", 3)
        >>> scores, grads = gradients(model, [(loss, 1.0)], x)
        >>> scores.shape == (len(x),) and grads.shape == x.shape
        True
    """
    copy = get_copy(model, backprop_modifier)
    wrt_path = resolve_wrt(copy, wrt_tensor)
    n = len(x)
    fn, (weights, *targets) = copy.function(losses, wrt_path, n)
    weights = tf.constant(weights)
    step = n if batch_size is None else _check_batch_size(batch_size)
    scores, grads, wrts = [], [], []
    for start in range(0, n, step):
        sl = slice(start, start + step)
        s, g, w = fn(tf.constant(x[sl]), weights, *[tf.constant(t[sl]) for t in targets])
        if fn.no_gradient_path:
            raise ValueError(fn.no_gradient_path)
        scores.append(s.numpy())
        grads.append(g.numpy())
        if return_wrt:
            wrts.append(w.numpy())
    out = (np.concatenate(scores), np.concatenate(grads))
    bad = np.flatnonzero(~np.isfinite(out[1].reshape(n, -1)).all(axis=1))
    if bad.size:
        raise ValueError(
            f"The gradient contains NaN or inf for sample(s) {bad.tolist()[:10]}: the model is "
            "not differentiable at this input (e.g. sqrt or log at 0, or an overflow)."
        )
    if return_wrt:
        out = out + (np.concatenate(wrts),)
    return out


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int or None, got {batch_size!r}.")
    return int(batch_size)
