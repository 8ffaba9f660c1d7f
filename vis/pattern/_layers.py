"""Layer helpers shared by the pattern estimators and the explainers (private).

Which layers carry a pattern (Dense, Conv1D/2D/3D), their linear map `x -> W x` without bias
(with the layer's own strides, padding, dilation and data format), the input patches that a
convolution multiplies with its kernel (each patch is one sample of the pattern statistics), which
layer's output decides the two-component regime of a neuron, and which layers the modified
backward passes can go through.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from vis import backend as _backend
from vis.utils.model import iter_layers, resolve_layer, terminal_layer

KERNEL_LAYERS = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)

# Layers an activation search may walk through (the reference implementation's list, minus the
# layers vis does not know how to handle anywhere else).
_SEARCH_PASS = (
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.ActivityRegularization,
    keras.layers.GaussianNoise,
    keras.layers.BatchNormalization,
    keras.layers.Add,
)
_SEARCH_ACTIVATION = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.ELU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.Softmax,
)

# Layers the PatternNet / LRP backward passes support besides the kernel layers (the reference's
# list for PatternNet, plus ReLU layers and 1-D/3-D variants).
_PASS_THROUGH = (
    keras.layers.InputLayer,
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.Permute,
    keras.layers.Concatenate,
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.MaxPooling3D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
)
_NORMALIZATION = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.UnitNormalization,
    keras.layers.Normalization,
)
# Input preprocessing: allowed when fitting (the next layer's patterns live in its output space),
# rejected by the modified backward passes (each method would map through it differently).
_PREPROCESSING = (keras.layers.Rescaling, keras.layers.Normalization)


def check_model(model, param: str = "model") -> keras.Model:
    """Raises a `TypeError` unless `model` (and every nested model) is Sequential or Functional.

    vis.pattern runs on a structural copy of the model and reads its layer graph (inputs, outputs,
    the layer that feeds each layer), which subclassed models do not have.

    Returns:
        `model`.

    Raises:
        TypeError: If `model` is not a `keras.Model`, or it or a nested model is subclassed.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`{param}` must be a keras.Model, got {type(model).__name__}.")
    for path, sub in [("", model)] + [(p, layer) for p, layer in iter_layers(model)
                                      if isinstance(layer, keras.Model)]:
        if not _is_graph_model(sub):
            where = f"Model {sub.name!r}" if not path else f"Nested model {path!r}"
            raise TypeError(
                f"{where} ({type(sub).__name__}) is a subclassed model: vis.pattern works on a "
                "copy of Sequential and Functional models (nested ones too) and needs their layer "
                "graph; rebuild subclassed models with the Functional API."
            )
    return model


def _is_graph_model(model: keras.Model) -> bool:
    # Keras 3: Functional models (and subclasses built with inputs/outputs) have `Functional` in
    # their MRO; Sequential wraps a functional graph. Compared by name: no private keras imports.
    if isinstance(model, keras.Sequential):
        return True
    return any(cls.__name__ == "Functional" and cls.__module__.startswith("keras")
               for cls in type(model).__mro__)


def activation_name(fn) -> str | None:
    """The registered name of an activation function (`None` for no activation)."""
    if fn is None:
        return None
    name = getattr(fn, "__name__", None)
    if name is None:
        return type(fn).__name__
    return name


def has_nonlinear_activation(layer: keras.layers.Layer) -> bool:
    """Whether `layer` applies a non-linearity (a fused activation or an activation layer)."""
    if isinstance(layer, (keras.layers.ReLU, keras.layers.ELU, keras.layers.LeakyReLU,
                          keras.layers.PReLU, keras.layers.Softmax)):
        return True
    fn = getattr(layer, "activation", None)
    return fn is not None and activation_name(fn) not in ("linear", None)


def is_kernel_layer(layer: keras.layers.Layer) -> bool:
    """Whether `layer` is a layer vis fits patterns for (Dense, Conv1D, Conv2D, Conv3D)."""
    return isinstance(layer, KERNEL_LAYERS)


def check_kernel_layer(path: str, layer: keras.layers.Layer) -> None:
    """Raises a `ValueError` naming `layer` if vis cannot fit or use a pattern for it."""
    if isinstance(layer, keras.layers.Dense):
        if getattr(layer, "quantization_mode", None) is not None:
            raise ValueError(
                f"Layer {path!r} (Dense) is quantized ({layer.quantization_mode!r}); patterns need "
                "a float kernel. Explain the float model."
            )
        return
    if getattr(layer, "groups", 1) != 1:
        raise ValueError(
            f"Layer {path!r} ({type(layer).__name__}) is a grouped convolution "
            f"(groups={layer.groups}); vis.pattern supports groups=1 only."
        )


def kernel_layers(model: keras.Model) -> list[tuple[str, keras.layers.Layer]]:
    """`(path, layer)` of every layer with a pattern; raises for weighted layers vis cannot handle.

    Raises:
        ValueError: If a layer has weights but is neither a supported kernel layer nor a
            normalization layer (e.g. Conv2DTranspose, DepthwiseConv2D, attention, RNNs), or if no
            layer of the model has a kernel.
    """
    found = []
    for path, layer in iter_layers(model):
        if isinstance(layer, keras.Model):
            continue
        if is_kernel_layer(layer):
            check_kernel_layer(path, layer)
            found.append((path, layer))
        elif layer.weights and not isinstance(layer, _NORMALIZATION):
            raise ValueError(
                f"Layer {path!r} ({type(layer).__name__}) has weights but no pattern definition: "
                "vis.pattern supports Dense, Conv1D, Conv2D and Conv3D kernels (groups=1)."
            )
    if not found:
        raise ValueError(
            f"Model {model.name!r} has no Dense or Conv1D/2D/3D layer: there is nothing to fit."
        )
    return found


def value(variable):
    """The value of a variable as a tensor, read now: inside `keras.Model.stateless_call` (or a
    `keras.StatelessScope`) the value that call runs on.

    `keras.ops.convert_to_tensor` returns a TensorFlow variable itself, which a custom gradient
    would read later, outside the call, with the variable's own stored value.
    """
    return variable.value if isinstance(variable, keras.Variable) else keras.ops.convert_to_tensor(
        variable)


def kernel_2d(layer: keras.layers.Layer) -> np.ndarray:
    """The layer's kernel as a `(inputs per neuron, units)` float64 matrix."""
    kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), dtype="float64")
    return kernel.reshape(-1, kernel.shape[-1])


def linear_op(layer: keras.layers.Layer):
    """`op(x, kernel)`: the layer's linear map without bias, with its own conv geometry."""
    if isinstance(layer, keras.layers.Dense):
        return keras.ops.matmul
    padding = layer.padding
    causal = padding == "causal"

    def op(x, kernel):
        if causal:
            left = layer.dilation_rate[0] * (layer.kernel_size[0] - 1)
            pads = [[0, 0], [left, 0], [0, 0]]
            if layer.data_format == "channels_first":
                pads = [[0, 0], [0, 0], [left, 0]]
            x = keras.ops.pad(x, pads)
        return keras.ops.conv(
            x,
            kernel,
            strides=list(layer.strides),
            padding="valid" if causal else padding,
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )

    return op


def _same_padding(size, kernel: int, stride: int, dilation: int):
    """TensorFlow's `'same'` padding `(before, after)` of one axis (`size` an int or a tensor)."""
    effective = (kernel - 1) * dilation + 1
    out = (size + stride - 1) // stride
    total = (out - 1) * stride + effective - size
    total = max(total, 0) if isinstance(total, int) else keras.ops.maximum(total, 0)
    return total // 2, total - total // 2


def pad_input(layer: keras.layers.Layer, x):
    """`x` zero-padded exactly as `layer` pads it, so that `valid_op(layer)(pad_input(layer, x),
    kernel)` equals `linear_op(layer)(x, kernel)` (Dense and 'valid' layers: `x` unchanged)."""
    if isinstance(layer, keras.layers.Dense) or layer.padding == "valid":
        return x
    first = 2 if layer.data_format == "channels_first" else 1
    pads = [[0, 0] for _ in range(len(x.shape))]
    for i, (k, s, d) in enumerate(zip(layer.kernel_size, layer.strides, layer.dilation_rate)):
        axis = first + i
        if layer.padding == "causal":
            pads[axis] = [d * (k - 1), 0]
            continue
        size = x.shape[axis]
        if size is None:  # a free dimension of a TensorFlow graph
            size = keras.ops.shape(x)[axis]
        pads[axis] = list(_same_padding(size, k, s, d))
    if any(not isinstance(v, int) for pair in pads for v in pair):
        pads = keras.ops.stack([keras.ops.stack([keras.ops.cast(v, "int32") for v in pair])
                                for pair in pads])
    return keras.ops.pad(x, pads)


def valid_op(layer: keras.layers.Layer):
    """`op(x, kernel)`: the layer's linear map without bias and *without padding* (Dense: matmul).

    Applied to `pad_input(layer, x)` it equals `linear_op(layer)(x, kernel)`.
    """
    if isinstance(layer, keras.layers.Dense):
        return keras.ops.matmul

    def op(x, kernel):
        return keras.ops.conv(
            x,
            kernel,
            strides=list(layer.strides),
            padding="valid",
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )

    return op


def patch_size(layer: keras.layers.Layer) -> int:
    """The number of kernel positions (`prod(kernel_size)`; 1 for Dense)."""
    if isinstance(layer, keras.layers.Dense):
        return 1
    return math.prod(layer.kernel_size)


def add_bias(layer: keras.layers.Layer, z, bias=None):
    """Adds the layer's bias (or `bias`, its value) to `z` exactly as Keras' own `call` does."""
    if getattr(layer, "bias", None) is None:
        return z
    bias = layer.bias if bias is None else bias
    if isinstance(layer, keras.layers.Dense):
        return keras.ops.add(z, bias)
    if layer.data_format == "channels_last":
        shape = (1,) * (layer.rank + 1) + (layer.filters,)
    else:
        shape = (1, layer.filters) + (1,) * layer.rank
    return keras.ops.add(z, keras.ops.reshape(bias, shape))


def to_rows(layer: keras.layers.Layer, t):
    """Reshapes a layer-output-shaped tensor to `(samples, units)` (channels last)."""
    if not isinstance(layer, keras.layers.Dense) and layer.data_format == "channels_first":
        t = keras.ops.transpose(t, [0] + list(range(2, len(t.shape))) + [1])
    return keras.ops.reshape(t, (-1, t.shape[-1]))


def patches(layer: keras.layers.Layer, x):
    """The `(samples, inputs per neuron)` matrix of `layer`'s input patches.

    Row order matches `to_rows` of the layer output; column order matches
    `kernel.reshape(-1, units)`. Dense layers: one row per input vector (leading axes flattened).
    Conv2D/Conv1D: the backend's patch extraction (`vis.backend`: `tf.image.extract_patches`, or
    an identity-kernel convolution) with the layer's kernel size, strides, dilation and padding
    (causal padding applied first). Conv3D: a convolution with an identity kernel.
    """
    if isinstance(layer, keras.layers.Dense):
        return keras.ops.reshape(x, (-1, x.shape[-1]))
    if layer.data_format == "channels_first":
        x = keras.ops.transpose(x, [0] + list(range(2, len(x.shape))) + [1])
    if isinstance(layer, keras.layers.Conv3D):
        return _identity_patches(layer, x)
    padding = layer.padding
    if isinstance(layer, keras.layers.Conv1D):
        if padding == "causal":
            left = layer.dilation_rate[0] * (layer.kernel_size[0] - 1)
            x = keras.ops.pad(x, [[0, 0], [left, 0], [0, 0]])
            padding = "valid"
        x = keras.ops.expand_dims(x, 1)
        sizes, strides, rates = (1,) + layer.kernel_size, (1,) + layer.strides, (
            1,) + layer.dilation_rate
    else:
        sizes, strides, rates = layer.kernel_size, layer.strides, layer.dilation_rate
    p = _backend.get().extract_patches(x, tuple(sizes), tuple(strides), tuple(rates), padding)
    return keras.ops.reshape(p, (-1, p.shape[-1]))


def channel_axis_of(layer: keras.layers.Layer) -> int:
    """The channel (unit) axis of the layer's output: -1, or 1 for channels-first convolutions."""
    if not isinstance(layer, keras.layers.Dense) and layer.data_format == "channels_first":
        return 1
    return -1


def unit_vector(layer: keras.layers.Layer, v, rank: int):
    """Reshapes a per-unit vector to broadcast against a rank-`rank` output of `layer`."""
    if channel_axis_of(layer) == 1:
        return keras.ops.reshape(v, (1, -1) + (1,) * (rank - 2))
    return v


def patch_products(layer: keras.layers.Layer, x, g, padded: bool = False):
    """`sum over samples of patch(x) g^T`, shape `(inputs per neuron, k)`, without patches.

    `x` is the layer input (`padded=True`: already padded with `pad_input`); `g` is shaped like
    the layer's output with `k` channels. For a convolution this is the gradient of
    `sum(conv(x, K) * g)` with respect to a `(kernel size, in, k)` kernel `K` (a vector-Jacobian
    product of the backend seam), i.e. the filter-gradient convolution, computed with the
    layer's own strides, padding, dilation and data format (and never materialising the
    patches). Row order matches `kernel.reshape(-1, units)`.
    """
    k = g.shape[channel_axis_of(layer)]
    if isinstance(layer, keras.layers.Dense):
        rows = keras.ops.reshape(x, (-1, x.shape[-1]))
        # (G^T X)^T: Eigen's matrix product is faster in this orientation on TensorFlow.
        return keras.ops.transpose(
            keras.ops.matmul(keras.ops.transpose(keras.ops.reshape(g, (-1, k))), rows))
    op = valid_op(layer) if padded else linear_op(layer)
    probe = keras.ops.zeros(tuple(layer.kernel.shape[:-1]) + (k,), x.dtype)
    grad = _backend.get().vjp(lambda kernel: op(x, kernel), probe, g)
    return keras.ops.reshape(grad, (-1, k))


def _identity_patches(layer: keras.layers.Layer, x):
    kernel_shape = tuple(layer.kernel.shape[:-1])
    d = math.prod(kernel_shape)
    eye = keras.ops.reshape(keras.ops.eye(d, dtype=x.dtype), kernel_shape + (d,))
    out = keras.ops.conv(
        x, eye, strides=list(layer.strides), padding=layer.padding,
        dilation_rate=layer.dilation_rate, data_format="channels_last",
    )
    return keras.ops.reshape(out, (-1, d))


def _flat_inputs(layer: keras.layers.Layer) -> list:
    try:
        return keras.tree.flatten(layer.input)
    except (AttributeError, ValueError):
        return []


def _is_softmax(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, keras.layers.Softmax) or activation_name(
        getattr(layer, "activation", None)) == "softmax"


def mask_sources(model: keras.Model) -> dict[str, tuple[str, str]]:
    """For every kernel layer path, the recorded value whose sign decides its regime.

    Values are `(path, kind)` keys of the streamed records: `'out'` (the layer's output), `'pre'`
    (its value before its fused activation) or `'in'` (its input). As in the reference
    implementation (iNNvestigate 1.x `get_active_neuron_io` with activation search): a kernel
    layer with a non-linear activation uses its own output; a linear one walks forward through
    shape-preserving layers (Dropout, Flatten, Reshape, BatchNormalization, Add, ...) to the first
    layer with a non-linearity (Activation, ReLU, Softmax, ...) and uses that layer's output; if
    there is none, its own output (with bias). The walk stays inside the (sub-)model that holds the
    kernel layer.

    Softmax is the exception: iNNvestigate fits on the model *without* its softmax, and
    `softmax(z) > 0` always holds, so the regime of a layer whose activation is softmax (fused:
    `(path, 'pre')`, the pre-softmax logits) or that reaches a Softmax / `Activation('softmax')`
    layer (`(that layer, 'in')`, the value entering the softmax) is the pre-softmax value `> 0`.
    """
    sources: dict[str, tuple[str, str]] = {}
    containers = [("", model)] + [
        (path + "/", layer) for path, layer in iter_layers(model) if isinstance(layer, keras.Model)
    ]
    for prefix, container in containers:
        layers = list(container.layers)
        for i, layer in enumerate(layers):
            if not is_kernel_layer(layer):
                continue
            path = prefix + layer.name
            sources[path] = (path, "out")
            if has_nonlinear_activation(layer):
                if _is_softmax(layer):
                    sources[path] = (path, "pre")
                continue
            tensor = layer.output
            for nxt in layers[i + 1:]:
                if not any(t is tensor for t in _flat_inputs(nxt)):
                    continue
                if isinstance(nxt, _SEARCH_ACTIVATION) and has_nonlinear_activation(nxt):
                    sources[path] = (prefix + nxt.name, "in" if _is_softmax(nxt) else "out")
                    break
                if isinstance(nxt, _SEARCH_PASS) or (
                    isinstance(nxt, keras.layers.Activation) and not has_nonlinear_activation(nxt)
                ):
                    tensor = nxt.output
                    continue
                break
    return sources


def taps(sources: dict[str, tuple[str, str]], paths) -> tuple[set, set, set]:
    """`(input paths, output paths, pre-activation paths)` to record for the regimes of `paths`."""
    inputs, outputs, pre = set(), set(), set()
    for path in paths:
        src, kind = sources[path]
        {"in": inputs, "out": outputs, "pre": pre}[kind].add(src)
    return inputs, outputs, pre


def output_layer(model: keras.Model) -> tuple[str, keras.layers.Layer]:
    """`(path, layer)` of the layer that produces the model output (inside nested models too).

    Raises:
        ValueError: If the model has several outputs.
    """
    if len(model.outputs) != 1:
        raise ValueError(
            f"Model {model.name!r} has {len(model.outputs)} outputs; vis.pattern explains "
            "single-output models."
        )
    return terminal_layer(*resolve_layer(model, model.outputs[0]))


def check_explainable(model: keras.Model, method: str) -> str:
    """Raises a `ValueError` naming the first layer the `method` backward pass cannot handle.

    Supported: Dense/Conv1D/2D/3D with ReLU or linear activation (softmax allowed on the output
    layer, whose pre-softmax logits are explained), ReLU layers and `Activation('relu'|'linear')`,
    max-pooling (local and global), Flatten, Reshape, Permute, Concatenate, Dropout and nested
    models made of these.

    Returns:
        The path of the output layer.
    """
    out_path, _ = output_layer(model)
    for path, layer in iter_layers(model):
        if isinstance(layer, keras.Model) or isinstance(layer, _PASS_THROUGH):
            continue
        if is_kernel_layer(layer) or isinstance(layer, keras.layers.Activation):
            if is_kernel_layer(layer):
                check_kernel_layer(path, layer)
            name = activation_name(getattr(layer, "activation", None))
            if name in (None, "linear", "relu") or (name == "softmax" and path == out_path):
                continue
            raise ValueError(
                f"{method} is defined for ReLU networks: layer {path!r} has activation {name!r} "
                "(supported: 'relu', 'linear', and 'softmax' on the output layer)."
            )
        if isinstance(layer, keras.layers.ReLU):
            if (float(layer.negative_slope) == 0.0 and float(layer.threshold) == 0.0
                    and layer.max_value is None):
                continue
            raise ValueError(
                f"{method} is defined for ReLU networks: layer {path!r} is a ReLU with "
                f"max_value={layer.max_value}, negative_slope={layer.negative_slope}, "
                f"threshold={layer.threshold}; only the plain ReLU is supported."
            )
        if isinstance(layer, keras.layers.Softmax) and path == out_path:
            continue
        if isinstance(layer, _PREPROCESSING):
            raise ValueError(
                f"{method} does not go through the preprocessing layer {path!r} "
                f"({type(layer).__name__}): fit_patterns accepts it, but the modified backward "
                "passes do not define it. Apply the preprocessing to the data and explain the "
                "model without this layer (same weights, patterns fitted on preprocessed data)."
            )
        raise ValueError(
            f"{method} does not support layer {path!r} ({type(layer).__name__}). Supported: "
            "Dense/Conv1D/Conv2D/Conv3D (ReLU or linear), ReLU, max-pooling, Flatten, Reshape, "
            "Permute, Concatenate, Dropout; BatchNormalization must be folded into the preceding "
            "kernel first."
        )
    return out_path
