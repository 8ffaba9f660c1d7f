"""Layer re-initialization for the model randomization test, and its randomization order.

A layer is randomized by drawing new values for each of its variables from the initializer the
layer itself declares for that variable (`kernel_initializer` for `kernel`, `bias_initializer` for
`bias`, `gamma_initializer`, `moving_mean_initializer`, `recurrent_initializer` of an LSTM cell,
...), with a seed derived from the test's `seed`, the layer's path and the variable's index. This
is a re-initialization, as in Adebayo et al. (2018): the new values follow the distribution the
model was initialized from, and owe nothing to the trained values (a permutation of the trained
weights would keep their distribution and is *not* what the test prescribes).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import keras
import numpy as np

from vis.utils import checks
from vis.utils.model import iter_layers, resolve_layer

__all__ = ["reinitialize_layer", "randomization_steps", "derive_seed"]

# Variable names whose initializer attribute is not `<name>_initializer`.
_INITIALIZER_ATTRS = {
    "kernel": ("depthwise_initializer",),  # DepthwiseConv names its kernel `kernel`
    "recurrent_kernel": ("recurrent_initializer",),
    "depthwise_kernel": ("depthwise_initializer",),
    "pointwise_kernel": ("pointwise_initializer",),
}


def derive_seed(seed: int | None, *keys: str) -> int:
    """A 31-bit seed derived from `seed` and string keys (e.g. a layer path), reproducibly.

    Args:
        seed: The base seed; `None` draws fresh entropy (not reproducible).
        *keys: Strings mixed into the seed.

    Returns:
        An int in `[0, 2**31)`.

    Example:
        >>> derive_seed(0, "dense", "0") == derive_seed(0, "dense", "0")
        True
    """
    entropy = [int(zlib.crc32(k.encode())) for k in keys]
    if seed is not None:
        entropy = [int(seed)] + entropy
        return int(np.random.SeedSequence(entropy).generate_state(1)[0] % (2**31))
    return int(np.random.SeedSequence().generate_state(1)[0] % (2**31))


def _sublayers(layer: keras.layers.Layer) -> list:
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is None:
        return [layer]
    return list(flatten(include_self=True, recursive=True))


def _initializer_for(layer: keras.layers.Layer, variable) -> tuple[object, object]:
    """`(initializer, owner)`: the initializer the (sub)layer owning `variable` declares."""
    name = variable.name.rsplit("/", 1)[-1].split(":")[0]
    attrs = [f"{name}_initializer", *_INITIALIZER_ATTRS.get(name, ())]
    path = getattr(variable, "path", None)
    subs = _sublayers(layer)
    # The sub-layer that owns the variable first (an LSTM's cell, a TimeDistributed's layer).
    owners = [s for s in subs if path and f"{getattr(s, 'path', None)}/{name}" == path]
    owners += [s for s in subs if s not in owners]
    for owner in owners:
        for attr in attrs:
            init = getattr(owner, attr, None)
            if init is not None and callable(init):
                return init, owner
    raise ValueError(
        f"Cannot re-initialize variable {path or name!r} of layer {layer.name!r} "
        f"({type(layer).__name__}): no `{name}_initializer` attribute declares its distribution. "
        "Pass `reinitialize=` a callable `(layer) -> list of arrays` giving the new weights."
    )


def _seeded(init, seed: int):
    """A copy of a Keras initializer with `seed` set (the initializer itself if it has none)."""
    get_config = getattr(init, "get_config", None)
    if get_config is None:
        return init
    config = dict(get_config())
    if "seed" not in config:
        return init
    config["seed"] = seed
    return type(init).from_config(config)


def reinitialize_layer(layer: keras.layers.Layer, seed: int | None = 0,
                       path: str | None = None) -> list[np.ndarray]:
    """New values for every variable of `layer`, drawn from the layer's own initializers.

    The layer is not modified: set the values with `layer.set_weights(...)`. Each variable gets
    its own seed, derived from `seed`, `path` and the variable's index, so the same layer gets
    the same values in a cascading and in an independent test. Initializers without a seed
    (`Zeros`, `Ones`, `Constant`) are deterministic anyway; a custom initializer without a
    `seed` in its config is called as is. Non-trainable variables (BatchNormalization's moving
    statistics) are reset from their initializers too, and an LSTM cell with
    `unit_forget_bias=True` gets its forget-gate bias set to ones, as Keras builds it.

    Args:
        layer: A built Keras layer (Dense, Conv, BatchNormalization, Embedding, LSTM, ...).
        seed: Base seed. Defaults to `0`; `None` is not reproducible.
        path: The layer's path in its model, mixed into the seed. Defaults to `None` (the
            layer's name).

    Returns:
        A list of arrays, one per `layer.weights` entry, with their shapes and dtypes.

    Raises:
        ValueError: If a variable has no initializer attribute on its layer.

    Example:
        >>> layer = model.get_layer("dense")
        >>> new = reinitialize_layer(layer, seed=0)
        >>> [w.shape for w in new] == [tuple(v.shape) for v in layer.weights]
        True
    """
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(f"`layer` must be a Keras layer, got {type(layer).__name__}.")
    seed = checks.seed(seed)
    key = path if path is not None else layer.name
    values = []
    for index, variable in enumerate(layer.weights):
        init, owner = _initializer_for(layer, variable)
        init = _seeded(init, derive_seed(seed, key, str(index)))
        shape, dtype = tuple(variable.shape), variable.dtype
        value = np.array(keras.ops.convert_to_numpy(init(shape, dtype=dtype)))
        if getattr(owner, "unit_forget_bias", False) and variable.name == "bias":
            units = value.shape[0] // 4  # an LSTM cell builds its forget-gate bias as ones
            value[units:2 * units] = 1.0
        values.append(value)
    return values


def _redrawable(layer: keras.layers.Layer) -> bool:
    """Whether every variable of `layer` has an initializer declaring its distribution."""
    try:
        for variable in layer.weights:
            _initializer_for(layer, variable)
    except ValueError:
        return False
    return True


def _randomized_by_default(layer: keras.layers.Layer) -> bool:
    """A layer with trainable weights, or a frozen one (`trainable=False`) whose weights all
    have initializers; not a layer holding only statistics (an adapted `Normalization`)."""
    if not layer.weights:
        return False
    return bool(layer.trainable_weights) or _redrawable(layer)


def _leaf_layers_with_weights(model: keras.Model, root=None, root_path: str = "") -> list[str]:
    """Paths of the non-model layers to randomize under `root` (the whole model by default):
    the layers randomized by default inside a model, `root` itself if it is a layer with
    weights."""
    if root is None or isinstance(root, keras.Model):
        source = model if root is None else root
        prefix = "" if root is None else f"{root_path}/"
        return [
            f"{prefix}{p}" for p, layer in iter_layers(source)
            if not isinstance(layer, keras.Model) and _randomized_by_default(layer)
        ]
    return [root_path] if root.weights else []


def randomization_steps(model: keras.Model, layers: Sequence | None = None
                        ) -> list[tuple[str, list[str]]]:
    """The randomization steps of `model`: `(step name, [layer paths])`, top (logits) first.

    Args:
        model: A Keras model.
        layers: `None` (the default): every layer with trainable weights, nested models
            included, one step each, from the last layer to the first. Frozen layers
            (`trainable=False`) count too when their weights have initializers; layers holding
            only non-trainable statistics without initializers (an adapted `Normalization`)
            are left out. Or a list of steps in randomization order, each a layer id (index,
            name, nested path or layer; a nested model stands for its layers randomized by
            default) or a list of ids randomized together as a block.

    Returns:
        A list of `(name, paths)`: the step's name (the layer path, or the paths joined by
        `'+'` for a block) and the paths of the layers it re-initializes.

    Raises:
        ValueError: If a step names an unknown layer, has no weights or comes twice, or
            `layers` is empty.

    Example:
        >>> [name for name, _ in randomization_steps(model)]
        ['predictions', 'dense', 'conv2', 'conv1']
    """
    checks.model(model)
    if layers is None:
        paths = list(reversed(_leaf_layers_with_weights(model)))
        if not paths:
            raise ValueError(f"Model {model.name!r} has no layer with weights to randomize.")
        return [(p, [p]) for p in paths]
    if isinstance(layers, (str, int, keras.layers.Layer)) or not isinstance(layers, Sequence):
        raise TypeError(
            f"`layers` must be None or a list of steps (layer ids or lists of layer ids), got "
            f"{layers!r}."
        )
    if not layers:
        raise ValueError("`layers` is empty: give at least one layer to randomize.")
    steps = []
    for item in layers:
        ids = list(item) if isinstance(item, (list, tuple)) else [item]
        names, paths = [], []
        for layer_id in ids:
            path, layer = resolve_layer(model, layer_id, "layers")
            names.append(path)
            paths.extend(_leaf_layers_with_weights(model, layer, path))
        if not paths:
            raise ValueError(f"`layers`: step {names} has no weights to randomize.")
        steps.append(("+".join(names), paths))
    seen = [name for name, _ in steps]
    duplicates = sorted({name for name in seen if seen.count(name) > 1})
    if duplicates:
        raise ValueError(f"`layers` lists the step(s) {duplicates} more than once.")
    return steps
