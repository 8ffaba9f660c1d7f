"""Model inputs: validation, batching, and the structure maps are returned in.

A model may take one input or several (a list, tuple or dict matching `model.inputs`); every
method returns one map per input, in the same structure. Float inputs are differentiated
directly; integer inputs (token ids) are not differentiable, and are explained through the
output of the `Embedding` layer they feed (see `embedding_routes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from vis.utils.model import iter_layers

__all__ = ["Batch", "InputSpec", "input_specs", "prepare", "embedding_routes", "pixel_inputs",
           "is_integer"]


@dataclass(frozen=True)
class InputSpec:
    """One model input: its name, shape (batch axis included, `None` for free sizes), dtype."""

    name: str
    shape: tuple
    dtype: str

    @property
    def integer(self) -> bool:
        """Whether the input holds integers (token ids, uint8 images)."""
        return is_integer(self.dtype)


def is_integer(dtype) -> bool:
    """Whether `dtype` is an integer (or boolean) type."""
    kind = np.dtype(dtype).kind
    return kind in "iub"


def _model_inputs(model: keras.Model):
    try:
        return model.inputs
    except (AttributeError, ValueError):
        return None


def input_specs(model: keras.Model, data=None) -> list[InputSpec]:
    """The model's inputs, from `model.inputs`, or for a subclassed model from its build / data.

    Args:
        model: A built Keras model.
        data: A batch of inputs, used for subclassed models without symbolic inputs. Defaults
            to `None`.

    Returns:
        One `InputSpec` per input.

    Raises:
        TypeError: If `model` is not a Keras model.
        ValueError: If the model is not built.

    Example:
        >>> [s.shape for s in input_specs(model)]
        [(None, 8, 8, 1)]
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    inputs = _model_inputs(model)
    if inputs:
        return [InputSpec(getattr(t, "name", f"input_{i}") or f"input_{i}", tuple(t.shape),
                          str(np.dtype(t.dtype))) for i, t in enumerate(inputs)]
    if not model.built:
        raise ValueError(
            f"`model` {model.name!r} is not built: call it once on data (or give it a "
            "`keras.Input`) before explaining it."
        )
    config = model.get_build_config() or {}
    shape = config.get("input_shape")
    if isinstance(shape, (list, tuple)) and shape and not isinstance(shape[0], (list, tuple, dict)):
        shape = (None,) + tuple(shape[1:])
    elif data is not None and not isinstance(data, (list, tuple, dict)):
        shape = (None,) + tuple(np.shape(data)[1:])
    else:
        raise ValueError(
            f"`model` {model.name!r} (a subclassed model) does not say what inputs it takes; "
            "vis explains subclassed models with one input array (rebuild multi-input models "
            "with the Functional API)."
        )
    dtype = "float32"
    if data is not None and not isinstance(data, (list, tuple, dict)):
        arr = np.asarray(data)
        if is_integer(arr.dtype):
            dtype = str(arr.dtype)
    return [InputSpec("input", shape, dtype)]


@dataclass
class Batch:
    """A validated batch of model inputs, and the structure the user gave them in.

    Attributes:
        arrays: One array per model input, with a batch axis, in the model's dtypes.
        single: The user gave one sample (no batch axis): maps come back without one.
        kind: `'array'`, `'list'`, `'tuple'` or `'dict'`.
        specs: The model's `InputSpec`s.
        keys: The dict keys, in model input order (`kind == 'dict'`).
    """

    arrays: list[np.ndarray]
    single: bool
    kind: str
    specs: list[InputSpec]
    keys: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.arrays[0])

    @property
    def value(self):
        """What the engine takes: the array of a single-input model, else the list."""
        return self.arrays[0] if len(self.arrays) == 1 else list(self.arrays)

    def restore(self, maps):
        """`maps` (one batch per input, or one array) in the user's structure.

        A single sample's maps lose their batch axis. For a single-input model given as an
        array, the one map batch is returned as an array. `None` (an input a method did not
        attribute) stays `None`.
        """
        per_input = maps if isinstance(maps, (list, tuple)) else [maps]
        if self.single:
            per_input = [None if m is None else m[0] for m in per_input]
        if self.kind == "array":
            return per_input[0]
        if self.kind == "dict":
            return dict(zip(self.keys, per_input))
        return tuple(per_input) if self.kind == "tuple" else list(per_input)

    def take(self, index) -> list[np.ndarray]:
        """The arrays of the samples `index` (a slice or index array)."""
        return [a[index] for a in self.arrays]


def _as_array(value, param: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:
        raise TypeError(f"`{param}` must be array-like, got {type(value).__name__}.") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) \
            or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"`{param}` must hold real numbers, got dtype {arr.dtype}.")
    return arr


def _split(model_specs: list[InputSpec], inputs, param: str) -> tuple[list, str, list[str]]:
    n = len(model_specs)
    if isinstance(inputs, dict):
        names = [s.name for s in model_specs]
        unknown = sorted(set(inputs) - set(names))
        missing = [k for k in names if k not in inputs]
        if unknown or missing:
            raise ValueError(
                f"`{param}` is a dict with keys {sorted(inputs)}; the model's inputs are "
                f"{names} (missing {missing}, unknown {unknown})."
            )
        return [inputs[k] for k in names], "dict", names
    if isinstance(inputs, (list, tuple)) and n > 1:
        if len(inputs) != n:
            raise ValueError(
                f"`{param}` has {len(inputs)} entries but the model has {n} inputs "
                f"{[s.name for s in model_specs]}."
            )
        return list(inputs), "tuple" if isinstance(inputs, tuple) else "list", []
    if n > 1:
        raise ValueError(
            f"The model has {n} inputs {[s.name for s in model_specs]}: give `{param}` as a "
            "list, a tuple or a dict of arrays, one per input."
        )
    return [inputs], "array", []


def prepare(model: keras.Model, inputs, param: str = "inputs") -> Batch:
    """Validates inputs against the model and adds a batch axis where needed.

    Args:
        model: A built Keras model.
        inputs: One sample or a batch: an array for a single-input model; a list, tuple or
            dict (keyed by input name) of arrays for a multi-input model.
        param: Name used in error messages. Defaults to `"inputs"`.

    Returns:
        A `Batch`.

    Raises:
        ValueError: Wrong number of inputs, shapes that do not match the model, samples and
            batches mixed, different batch sizes, an empty batch, NaN/inf values, non-integer
            values for an integer input, or a model that is not built.
        TypeError: Non-numeric inputs, or a model that is not a Keras model.

    Example:
        >>> batch = prepare(model, x[0])
        >>> batch.arrays[0].shape, batch.single
        ((1, 8, 8, 1), True)
    """
    specs = input_specs(model, inputs)
    parts, kind, keys = _split(specs, inputs, param)
    arrays, singles = [], []
    for i, (spec, value) in enumerate(zip(specs, parts)):
        where = param if len(specs) == 1 else f"{param}[{keys[i] if keys else i}]"
        arr = _as_array(value, where)
        expected = spec.shape
        if arr.ndim == len(expected) - 1:
            arr, single = arr[None], True
        elif arr.ndim == len(expected):
            single = False
        else:
            raise ValueError(
                f"`{where}` has shape {arr.shape}, but the model expects one sample of shape "
                f"{expected[1:]} or a batch of shape {expected}."
            )
        for got, want in zip(arr.shape[1:], expected[1:]):
            if want is not None and got != want:
                given = np.shape(value)
                hint = ""
                if len(given) == len(expected) - 1 and expected[-1] == 1 and all(
                        w is None or g == w for g, w in zip(given[1:], expected[1:-1])):
                    hint = (" It looks like a batch of grayscale images without the channel "
                            "axis: add it with `x[..., None]`.")
                raise ValueError(
                    f"`{where}` has shape {given}, but the model expects one sample of "
                    f"shape {expected[1:]} or a batch of shape {expected}.{hint}"
                )
        if arr.shape[0] == 0:
            raise ValueError(f"`{where}` is an empty batch.")
        arrays.append(_cast(arr, spec, where))
        singles.append(single)
    if len(set(singles)) > 1:
        raise ValueError(f"`{param}` mixes single samples and batches; give all of one kind.")
    sizes = {len(a) for a in arrays}
    if len(sizes) > 1:
        raise ValueError(f"`{param}` arrays have different batch sizes {[len(a) for a in arrays]}.")
    return Batch(arrays, singles[0], kind, specs, keys)


def _cast(arr: np.ndarray, spec: InputSpec, where: str) -> np.ndarray:
    if spec.integer:
        if not is_integer(arr.dtype):
            if not np.all(np.isfinite(arr)) or not np.all(np.mod(arr, 1) == 0):
                raise ValueError(
                    f"`{where}` must hold integers (the model's input {spec.name!r} has dtype "
                    f"{spec.dtype}), got non-integer values."
                )
        return arr.astype(spec.dtype, copy=False)
    dtype = np.dtype(spec.dtype) if np.dtype(spec.dtype).kind == "f" else np.dtype("float32")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"`{where}` contains NaN or inf values; explanations need finite input.")
    with np.errstate(over="ignore"):  # reported below, with the input's name
        out = arr.astype(dtype, copy=False)
    if not np.all(np.isfinite(out)):
        raise ValueError(
            f"`{where}` has values that overflow the model's input dtype {dtype} (largest "
            f"magnitude {float(np.max(np.abs(arr))):.3g})."
        )
    return out


def embedding_routes(model: keras.Model) -> dict[int, str]:
    """For each integer input, the layer whose output is differentiated in its place.

    Token ids (and uint8 pixels) are not differentiable: the gradient is taken w.r.t. the
    output of the layer the input feeds, an `Embedding` (maps then have an embedding axis,
    which `vis.explain` reduces) or a cast / `Rescaling` layer (maps keep the input's shape).

    Args:
        model: A built Keras model.

    Returns:
        `{input index: layer path}` for the integer inputs that feed exactly one layer (or,
        inside nested models, the model's only `Embedding`).

    Example:
        >>> embedding_routes(text_model)
        {0: 'embedding'}
    """
    inputs = _model_inputs(model)
    if not inputs:
        return {}
    layers = [(p, layer) for p, layer in iter_layers(model)
              if not isinstance(layer, keras.layers.InputLayer)]
    integer_inputs = [i for i, t in enumerate(inputs) if is_integer(t.dtype)]
    routes = {}
    for i in integer_inputs:
        consumers = []
        for path, layer in layers:
            try:
                fed = layer.input
            except (AttributeError, ValueError):  # shared or never-called layers
                continue
            if fed is inputs[i] or (isinstance(fed, (list, tuple)) and any(
                    t is inputs[i] for t in fed)):
                consumers.append((path, layer))
        embeddings = [p for p, layer in consumers if isinstance(layer, keras.layers.Embedding)]
        if embeddings:
            routes[i] = embeddings[0]
        elif len(consumers) == 1 and not isinstance(consumers[0][1], keras.Model):
            routes[i] = consumers[0][0]
        else:
            nested = [p for p, layer in layers if isinstance(layer, keras.layers.Embedding)]
            if len(nested) == 1 and len(integer_inputs) == 1:
                routes[i] = nested[0]
    return routes


def pixel_inputs(model: keras.Model) -> set[int]:
    """The integer inputs that hold pixel values: those read through a cast or `Rescaling`.

    An integer input routed to a layer other than an `Embedding` (see `embedding_routes`) holds
    numbers, e.g. a uint8 image: noise (SmoothGrad) can be added to it, rounded to integers.
    Token ids (read by an `Embedding`) cannot take noise.

    Args:
        model: A built Keras model.

    Returns:
        The input indices.

    Example:
        >>> pixel_inputs(uint8_image_model)
        {0}
    """
    layers = dict(iter_layers(model))
    return {i for i, path in embedding_routes(model).items()
            if not isinstance(layers.get(path), keras.layers.Embedding)}


def sample_axes(arrays: Sequence[np.ndarray]) -> list[tuple[int, ...]]:
    """The non-batch axes of each array (for per-sample reductions)."""
    return [tuple(range(1, a.ndim)) for a in arrays]


def per_input(model: keras.Model, value, param: str) -> list:
    """A per-input option (e.g. `baseline=`) as one entry per model input.

    A list, tuple or dict (keyed by input name) gives one entry per input; anything else
    (`None`, a number, a callable, or an array for a single-input model) applies to every input.

    Args:
        model: The model.
        value: The option's value.
        param: Its name, for error messages.

    Returns:
        A list with one entry per model input.

    Raises:
        ValueError: A structure with the wrong number of entries or unknown keys, or an array
            given for a multi-input model.

    Example:
        >>> per_input(two_input_model, {"image": 0.0, "meta": None}, "baseline")
        [0.0, None]
    """
    specs = input_specs(model)
    names = [s.name for s in specs]
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"`{param}` has unknown keys {unknown}; the model's inputs are {names}.")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and len(specs) > 1:
        if len(value) != len(specs):
            raise ValueError(
                f"`{param}` has {len(value)} entries but the model has {len(specs)} inputs {names}."
            )
        return list(value)
    if len(specs) > 1 and isinstance(value, np.ndarray) and value.ndim > 0:
        raise ValueError(
            f"`{param}` is one array but the model has {len(specs)} inputs {names}: give a list "
            "or a dict with one entry per input."
        )
    return [value] * len(specs)


def float_embedding_inputs(model: keras.Model) -> list[str]:
    """The names of float inputs that feed an `Embedding` (token ids declared as floats).

    Their gradient does not exist (the embedding look-up is not differentiable w.r.t. the ids);
    declaring the input as integers (`keras.Input(..., dtype="int32")`) makes vis explain the
    embedding output instead.

    Example:
        >>> float_embedding_inputs(model)
        []
    """
    inputs = _model_inputs(model)
    if not inputs:
        return []
    names = []
    for path, layer in iter_layers(model):
        if not isinstance(layer, keras.layers.Embedding):
            continue
        try:
            fed = layer.input
        except (AttributeError, ValueError):
            continue
        for tensor in inputs:
            if fed is tensor and not is_integer(tensor.dtype):
                names.append(getattr(tensor, "name", path))
    return names
