"""Layer look-up (index, name, nested path, object) and safe model copies."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np

__all__ = [
    "iter_layers",
    "resolve_layer",
    "find_layer_idx",
    "find_last_conv_layer",
    "copy_model",
    "clone_with_pairs",
    "copy_weights",
    "ends_in_softmax",
    "channel_axis",
    "terminal_layer",
]

LayerId = Any  # int | str | keras.layers.Layer


def _sublayers(layer: keras.layers.Layer) -> list:
    """The direct children of a nested model (empty for a plain layer)."""
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    return []


def iter_layers(model: keras.Model, prefix: str = "") -> Iterator[tuple[str, keras.layers.Layer]]:
    """Yields `(path, layer)` for every layer of `model`, depth first, nested models included.

    A layer inside a sub-model named `base` has the path `"base/<layer name>"`; the sub-model
    itself is yielded before its layers. Functional models list their `InputLayer` too
    (Keras 3 Sequential models do not).

    Args:
        model: A Keras model.
        prefix: Path prefix of `model`'s own layers. Defaults to `""`.

    Yields:
        `(path, layer)` tuples in model order.

    Example:
        >>> [path for path, _ in iter_layers(model)]
        ['image', 'conv1', 'conv2', 'pool', 'flatten', 'dense', 'predictions']
    """
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        yield path, layer
        if _sublayers(layer):
            yield from iter_layers(layer, prefix=f"{path}/")


def _layer_names(model: keras.Model) -> list[str]:
    return [path for path, _ in iter_layers(model)]


def resolve_layer(
    model: keras.Model, layer_idx: LayerId, param: str = "layer_idx"
) -> tuple[str, keras.layers.Layer]:
    """Finds a layer of `model` from an index, a name, a nested path or the layer object.

    Args:
        model: A Keras model.
        layer_idx: An index into `model.layers` (negative allowed), a layer name, a path such as
            `"base/conv5"` reaching into a nested model, or a layer object of `model`.
        param: The argument name used in error messages. Defaults to `"layer_idx"`.

    Returns:
        `(path, layer)`: the layer's path (see `iter_layers`) and the layer itself.

    Raises:
        ValueError: If no such layer exists (the message lists the valid names).
        TypeError: If `layer_idx` is of an unsupported type.

    Example:
        >>> path, layer = resolve_layer(model, -1)
        >>> path
        'predictions'
    """
    if isinstance(layer_idx, (bool, np.bool_)):
        raise TypeError(f"`{param}` must be an int, a layer name or a layer, got {layer_idx!r}.")
    if isinstance(layer_idx, (int, np.integer)):
        layer_idx = int(layer_idx)
        n = len(model.layers)
        if not -n <= layer_idx < n:
            raise ValueError(
                f"`{param}`={layer_idx} is out of range: the model has {n} layers "
                f"(valid indices {-n}..{n - 1}; note that Keras 3 Sequential models have no "
                "InputLayer in `model.layers`)."
            )
        layer = model.layers[layer_idx]
        return layer.name, layer
    if isinstance(layer_idx, str):
        paths = dict(iter_layers(model))
        if layer_idx in paths:
            return layer_idx, paths[layer_idx]
        matches = [p for p in paths if p.rsplit("/", 1)[-1] == layer_idx]
        if len(matches) == 1:
            return matches[0], paths[matches[0]]
        if len(matches) > 1:
            raise ValueError(
                f"`{param}`={layer_idx!r} is ambiguous: it names {matches}. Use a full path."
            )
        raise ValueError(
            f"`{param}`={layer_idx!r}: no layer with that name or path. Valid names: "
            f"{_layer_names(model)}."
        )
    if isinstance(layer_idx, keras.layers.Layer):
        for path, layer in iter_layers(model):
            if layer is layer_idx:
                return path, layer
        raise ValueError(f"`{param}`: layer {layer_idx.name!r} is not a layer of this model.")
    history = getattr(layer_idx, "_keras_history", None)
    if history is not None:  # a KerasTensor: the output of some layer
        return resolve_layer(model, history.operation, param)
    raise TypeError(
        f"`{param}` must be an int index, a layer name/path, a layer or a layer's output tensor, "
        f"got {type(layer_idx).__name__}: {layer_idx!r}."
    )


def terminal_layer(path: str, layer: keras.layers.Layer) -> tuple[str, keras.layers.Layer]:
    """For a nested single-output model, the inner layer that computes its output (recursively).

    Targeting a nested classifier (e.g. `Sequential([Input, keras.applications.X(...)])`, layer
    `-1`) then means targeting its last layer, so that a softmax there is seen and skipped.
    Other layers are returned unchanged.

    Args:
        path: The path of `layer` (see `iter_layers`).
        layer: A layer, or a nested model.

    Returns:
        `(path, layer)` of the innermost layer computing the output, or the arguments unchanged
        for a plain layer or a model whose output cannot be traced to one inner layer.

    Example:
        >>> inner = keras.Sequential(
        ...     [keras.Input((4,)), keras.layers.Dense(3, activation="softmax", name="out")],
        ...     name="inner")
        >>> outer = keras.Sequential([keras.Input((4,)), inner])
        >>> terminal_layer("inner", outer.layers[-1])[0]
        'inner/out'
    """
    while isinstance(layer, keras.Model):
        try:
            outputs = layer.outputs
        except (AttributeError, ValueError):
            break
        if outputs is None or len(outputs) != 1:
            break
        history = getattr(outputs[0], "_keras_history", None)
        if history is None or isinstance(history.operation, keras.layers.InputLayer):
            break
        sub_path, sub_layer = resolve_layer(layer, history.operation)
        path, layer = f"{path}/{sub_path}", sub_layer
    return path, layer


def output_shape(layer: keras.layers.Layer) -> tuple:
    """Returns the (first) output shape of a built layer, batch axis included.

    Args:
        layer: A layer that has been called on a symbolic input (part of a built model).

    Returns:
        The shape as a tuple, `None` for unknown dimensions.

    Raises:
        AttributeError: If the layer has never been called (Keras: no defined output).

    Example:
        >>> output_shape(model.get_layer("conv1"))
        (None, 8, 8, 16)
    """
    try:
        out = layer.output
    except AttributeError:  # a layer of a subclassed model: the shape its copy recorded
        if layer in _TRACED_SHAPES:
            return _TRACED_SHAPES[layer]
        raise
    if isinstance(out, (list, tuple)):
        out = out[0]
    return tuple(out.shape)


_TRACED_SHAPES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def record_shape(layer: keras.layers.Layer, shape: tuple) -> None:
    """Remembers the output shape of a layer that has no symbolic output (subclassed models),
    for `output_shape` (weakly: the layer is not kept alive, nor modified)."""
    _TRACED_SHAPES[layer] = tuple(shape)


def layer_at(model: keras.Model, path: str) -> keras.layers.Layer:
    """Returns the layer of `model` at an exact `path` (as produced by `iter_layers`).

    Unlike `resolve_layer`, it accepts only exact paths and gives no friendly error message.

    Args:
        model: A Keras model.
        path: A layer path such as `"conv2"` or `"base/conv5"`.

    Returns:
        The layer object.

    Raises:
        KeyError: If no layer has that path.

    Example:
        >>> layer_at(model, "conv2").name
        'conv2'
    """
    return dict(iter_layers(model))[path]


def find_layer_idx(model: keras.Model, layer_name: str) -> int:
    """Index of the top-level layer called `layer_name` in `model.layers` (keras-vis helper).

    Args:
        model: A Keras model.
        layer_name: The layer's name.

    Returns:
        The index into `model.layers`.

    Raises:
        ValueError: If no top-level layer has that name.

    Example:
        >>> find_layer_idx(model, "predictions")  # functional: model.layers[0] is the input
        6
    """
    for idx, layer in enumerate(model.layers):
        if layer.name == layer_name:
            return idx
    raise ValueError(
        f"`layer_name`={layer_name!r} not found. Valid names: {[layer.name for layer in model.layers]}."
    )


def _is_convolution(layer: keras.layers.Layer) -> bool:
    """A layer with a kernel sliding over spatial axes (Conv1D/2D/3D, depthwise, separable,
    transposed)."""
    return (getattr(layer, "data_format", None) in ("channels_first", "channels_last")
            and isinstance(getattr(layer, "kernel_size", None), (tuple, list)))


def _safe_output_shape(layer: keras.layers.Layer) -> tuple | None:
    try:
        return tuple(output_shape(layer))
    except (AttributeError, ValueError, TypeError):
        return None


def find_last_conv_layer(model: keras.Model, before: str | None = None,
                         param: str = "layer") -> str:
    """Path of the default Grad-CAM layer: the last convolution, or the last layer after it
    that keeps its output shape.

    The rule: find the last convolution-like layer (a kernel over spatial axes: `Conv1D`,
    `Conv2D`, `Conv3D`, depthwise, separable and transposed convolutions) before `before`,
    then walk forward through the layers that follow it while each has the same output shape
    (BatchNormalization, activations, Dropout, an `Add` of a residual block, ...), and pick the
    last of them. A pooling layer, a `Flatten` or anything else that changes the shape ends the
    walk. So `conv -> max-pool -> Dropout -> flatten` picks the convolution, and MobileNetV2's
    `Conv_1 -> BN -> ReLU(6.)` picks the final ReLU. A model without a convolution falls back
    to the last layer with a spatial (rank >= 3) output that is not a pooling layer.

    Args:
        model: A Keras model.
        before: Only consider layers that come before this path. Defaults to `None` (all).
        param: The caller's parameter that names the layer explicitly, for the error message.
            Defaults to `"layer"` (`vis.explain`).

    Returns:
        The layer path (see `iter_layers`).

    Raises:
        ValueError: If the model has no layer with a spatial output.

    Example:
        >>> find_last_conv_layer(model)
        'conv2'
        >>> find_last_conv_layer(model, before="conv2")
        'conv1'
    """
    candidates = []  # (path, layer, output shape) in model order, nested models flattened
    for path, layer in iter_layers(model):
        if path == before:
            break
        if isinstance(layer, (keras.Model, keras.layers.InputLayer)):
            continue
        candidates.append((path, layer, _safe_output_shape(layer)))
    last_conv = max((i for i, (_, layer, shape) in enumerate(candidates)
                     if _is_convolution(layer) and shape is not None and len(shape) >= 3),
                    default=None)
    if last_conv is not None:
        found, shape = candidates[last_conv][0], candidates[last_conv][2]
        for path, layer, out in candidates[last_conv + 1:]:
            if out != shape or "Pooling" in type(layer).__name__:
                break
            found = path
        return found
    found = None
    for path, layer, shape in candidates:
        if "Pooling" not in type(layer).__name__ and shape is not None and len(shape) >= 3:
            found = path
    if found is None:
        raise ValueError(
            "Could not find a layer with a spatial output (a convolution) for Grad-CAM; "
            f"pass `{param}` explicitly."
        )
    return found


def ends_in_softmax(layer: keras.layers.Layer) -> bool:
    """Returns whether `layer` ends in a softmax.

    True for a fused `activation='softmax'` (e.g. a Dense head), a `Softmax` layer and
    `Activation('softmax')`. The engine then reads the pre-softmax logits.

    Args:
        layer: A Keras layer.

    Returns:
        `True` if the layer's last operation is a softmax.

    Example:
        >>> ends_in_softmax(model.get_layer("predictions"))
        True
        >>> ends_in_softmax(model.get_layer("dense"))
        False
    """
    if isinstance(layer, keras.layers.Softmax):
        return True
    act = getattr(layer, "activation", None)
    return act is not None and getattr(act, "__name__", "") == "softmax"


def channel_axis(layer: keras.layers.Layer | None = None, default: int | None = None) -> int:
    """The channel axis of `layer`'s output: 1 for `channels_first`, else -1.

    Read from the layer's `data_format`, or a `BatchNormalization`'s `axis`; layers with neither
    (ReLU, Activation, Add, ...) get `default` (e.g. `model_channel_axis(model)`), and without a
    default Keras' global image data format.

    Args:
        layer: A Keras layer. Defaults to `None` (use `default` or the global format).
        default: The axis for layers that do not say. Defaults to `None` (Keras'
            `image_data_format()`).

    Returns:
        `1` for channels-first outputs, `-1` for channels-last.

    Example:
        >>> channel_axis(keras.layers.Conv2D(4, 3, data_format="channels_first"))
        1
        >>> channel_axis(keras.layers.ReLU(), default=1)
        1
    """
    fmt = getattr(layer, "data_format", None)
    if fmt in ("channels_first", "channels_last"):
        return 1 if fmt == "channels_first" else -1
    if isinstance(layer, keras.layers.BatchNormalization) and isinstance(layer.axis, int):
        return 1 if layer.axis == 1 else -1
    if default is not None:
        return default
    return 1 if keras.config.image_data_format() == "channels_first" else -1


def model_channel_axis(model: keras.Model) -> int:
    """Returns the channel axis of a model's image input.

    Read from the first layer (depth first) that has a `data_format`; a model without one
    (e.g. only Dense layers) follows Keras' global image data format.

    Args:
        model: A Keras model.

    Returns:
        `1` for `channels_first`, `-1` for `channels_last`.

    Example:
        >>> model_channel_axis(model)
        -1
    """
    for _, layer in iter_layers(model):
        fmt = getattr(layer, "data_format", None)
        if fmt in ("channels_first", "channels_last"):
            return 1 if fmt == "channels_first" else -1
    return channel_axis(None)


_FORMATS = ("channels_first", "channels_last")


def first_spatial_layer(model: keras.Model) -> tuple[keras.layers.Layer | None, int]:
    """The first convolution / pooling layer (depth-first) and its spatial rank (`0` if none).

    Example:
        >>> first_spatial_layer(model)[1]
        2
    """
    for _, layer in iter_layers(model):
        if isinstance(layer, keras.Model) or getattr(layer, "data_format", None) not in _FORMATS:
            continue
        size = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
        if isinstance(size, (tuple, list)) and size:
            return layer, len(size)
    return None, 0


def input_channel_axis(model: keras.Model, ndim: int, input_ndim: int | None = None) -> int | None:
    """The channel axis of maps of rank `ndim` shaped like a model input, or `None`.

    A channel axis is assumed only where the model reads one: if the model's first
    convolution or pooling layer has spatial rank `r` and the input has rank `r + 2` (batch,
    `r` spatial axes, channels), the maps have that layer's channel axis (`channels_last`: -1,
    `channels_first`: 1). A grayscale `(N, H, W)` input reshaped inside the model has none. A
    model without convolutions has one only for maps of rank 4 or more (images), from the Keras
    image data format.

    Args:
        model: The explained model.
        ndim: The rank of the batch of maps, batch axis included.
        input_ndim: The rank of the input batch. Defaults to `None` (the first input's).

    Returns:
        `-1` or `1`, or `None` if the maps have no channel axis.

    Example:
        >>> input_channel_axis(model, 4)
        -1
    """
    if input_ndim is None:
        try:
            input_ndim = len(model.inputs[0].shape)
        except (AttributeError, ValueError, TypeError, IndexError):
            input_ndim = ndim
    layer, rank = first_spatial_layer(model)
    if layer is not None:
        if input_ndim != rank + 2 or ndim != input_ndim:
            return None
        return 1 if layer.data_format == "channels_first" else -1
    return model_channel_axis(model) if ndim >= 4 else None


def _clone_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
    """A new layer from the config; a `Lambda` reuses the user's in-memory function (its config
    round trip would need unsafe deserialization, which is meant for files, not live objects)."""
    if isinstance(layer, keras.layers.Lambda):
        return keras.layers.Lambda(
            layer.function,
            output_shape=getattr(layer, "_output_shape", None),
            mask=layer.mask,
            arguments=dict(layer.arguments or {}),
            name=layer.name,
        )
    return layer.__class__.from_config(layer.get_config())


def clone_with_pairs(
    model: keras.Model,
    clone_function: Callable | None = None,
    call_function: Callable | None = None,
) -> tuple[keras.Model, list[tuple[Any, Any]]]:
    """A structural copy of `model` (no weights copied) and the `(original, clone)` of each layer.

    The building block of `copy_model` and of the copies in `vis.copies`. Nested Sequential and
    Functional models are copied recursively; the pairs list the leaf layers (and `keras.ops`
    operations) the copy is made of, each once.

    Args:
        model: A Sequential or Functional Keras model (nested models allowed).
        clone_function: `fn(layer) -> new layer`, called once per layer. It must return a new
            object (the user's layers are never shared with a copy). Defaults to `None` (a
            layer rebuilt from its config; a `Lambda` keeps its in-memory function).
        call_function: `fn(layer, *args, **kwargs) -> outputs`, how the copy calls each of its
            layers while it is built (`keras.models.clone_model`; Functional models only).
            Defaults to `None`.

    Returns:
        `(clone, pairs)`.

    Raises:
        TypeError: If `model` is not a Keras model, is a subclassed model, or a layer cannot
            be re-created.
        ValueError: If `clone_function` returns a layer of `model` itself.

    Example:
        >>> clone, pairs = clone_with_pairs(model)
        >>> all(new is not old for old, new in pairs)
        True
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    make = clone_function or _clone_layer
    pairs: list[tuple[Any, Any]] = []

    def recording(layer):
        new = make(layer)
        if new is layer:
            raise _SharedLayer(
                f"`clone_function` returned layer {layer.name!r} itself: a copy must not share "
                "the user's layers."
            )
        pairs.append((layer, new))
        return new

    if is_subclassed(model):
        if clone_function is not None or call_function is not None:
            raise _copy_error(model, TypeError("a subclassed model cannot be transformed"))
        return _clone_subclassed(model)
    try:
        clone = keras.models.clone_model(model, clone_function=recording,
                                         call_function=call_function, recursive=True)
    except _SharedLayer:
        raise
    except Exception as exc:  # exotic layers
        raise _copy_error(model, exc) from exc
    covered = {id(w) for original, _ in pairs for w in getattr(original, "weights", [])}
    missing = [w.path for w in model.weights if id(w) not in covered]
    if missing:
        raise TypeError(
            f"Cannot copy model {model.name!r}: weights {missing} belong to no copied layer."
        )
    return clone, pairs


def is_subclassed(model: keras.Model) -> bool:
    """Whether `model` is a subclassed `keras.Model` (not Sequential or Functional).

    Example:
        >>> is_subclassed(model)
        False
    """
    if isinstance(model, keras.Sequential):
        return False
    try:
        return not model.inputs
    except (AttributeError, ValueError):
        return True


def _clone_subclassed(model: keras.Model) -> tuple[keras.Model, list[tuple[Any, Any]]]:
    """A subclassed model re-created from its config, built, paired with the original whole.

    Works for the Keras idiom of models whose `__init__` takes its config (`**kwargs`, or a
    `get_config` override); the copy's variables must line up with the original's, one by one.
    """
    try:
        clone = model.__class__.from_config(model.get_config())
        shape = (model.get_build_config() or {}).get("input_shape")
        if not isinstance(shape, (list, tuple)) or not shape or isinstance(shape[0], (list, dict)):
            raise TypeError("the model's input shape is unknown")
        dtype = (model.inputs[0].dtype if getattr(model, "inputs", None) else "float32")
        clone(np.zeros((1,) + tuple(d or 1 for d in shape[1:]), dtype=dtype))
    except Exception as exc:
        raise _copy_error(model, exc) from exc
    mine, theirs = clone.weights, model.weights
    if [tuple(v.shape) for v in mine] != [tuple(v.shape) for v in theirs]:
        raise _copy_error(model, TypeError("its re-created copy has other weights"))
    return clone, [(model, clone)]


class _SharedLayer(ValueError):
    """A `clone_function` returned the layer it was given."""


def _copy_error(model: keras.Model, exc: Exception) -> TypeError:
    reason = " ".join(str(exc).split("Example:")[0].split()) or type(exc).__name__
    return TypeError(
        f"Cannot copy model {model.name!r} ({type(model).__name__}): {reason}. vis works on a "
        "copy of Sequential and Functional models (nested ones too), and of subclassed models "
        "that can be re-created from their config (an `__init__(self, ..., **kwargs)` passing "
        "`**kwargs` to `super().__init__`, or a `get_config` override); otherwise rebuild the "
        "model with the Functional API."
    )


def copy_model(
    model: keras.Model,
    clone_function: Callable | None = None,
    call_function: Callable | None = None,
) -> keras.Model:
    """A structural copy of `model` (nested models too) with the trained weights copied in.

    `keras.models.clone_model` alone creates fresh, untrained weights; this copies the weights,
    layer by layer (variable to variable), so a `clone_function` / `call_function` that
    transforms the graph (e.g. drops a softmax, adds outputs) keeps every layer's weights.

    Args:
        model: A Sequential or Functional Keras model (nested models allowed).
        clone_function: `fn(layer) -> new layer` (see `clone_with_pairs`); a new layer must
            have the same weights as the original. Defaults to `None` (rebuilt from the config).
        call_function: `fn(layer, *args, **kwargs) -> outputs` (Functional models only, see
            `keras.models.clone_model`). Defaults to `None`.

    Returns:
        A new model with new layer objects and equal weights; `model` is not touched.

    Raises:
        TypeError: If `model` is not a Keras model or is a subclassed model (those cannot be
            cloned from their config; rebuild it with the Functional API), or a layer's
            weights do not match its copy's.

    Example:
        >>> clone = copy_model(model)
        >>> clone is model, all(np.array_equal(a, b)
        ...                     for a, b in zip(clone.get_weights(), model.get_weights()))
        (False, True)
    """
    clone, pairs = clone_with_pairs(model, clone_function, call_function)
    copy_weights(pairs)
    for _, layer in iter_layers(clone):
        if isinstance(layer, keras.layers.Normalization) and layer.built:
            # an adapted Normalization derives its mean/variance tensors from its weights only
            # in finalize_state(): assigning the weights alone leaves the copy at mean 0,
            # variance 1
            layer.finalize_state()
    return clone


def copy_weights(pairs) -> None:
    """Assigns each original layer's weights to its clone (variable to variable, no NumPy).

    Args:
        pairs: `(original, clone)` layers, as returned by `clone_with_pairs`.

    Raises:
        TypeError: If a clone's weights do not have the original's shapes.
    """
    for original, clone in pairs:
        theirs, mine = list(getattr(original, "weights", [])), list(getattr(clone, "weights", []))
        if [tuple(v.shape) for v in theirs] != [tuple(v.shape) for v in mine]:
            raise TypeError(
                f"The copy of layer {getattr(original, 'name', original)!r} has weights of "
                f"shapes {[tuple(v.shape) for v in mine]}, the layer "
                f"{[tuple(v.shape) for v in theirs]}."
            )
        for dst, src in zip(mine, theirs):
            dst.assign(src.value)
