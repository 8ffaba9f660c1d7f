"""Grad-CAM (Selvaraju et al. 2017): feature maps weighted by their pooled gradients.

Paper: "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization",
https://arxiv.org/abs/1610.02391. `w_k = mean_ij d score / d A_k[ij]`, `cam = relu(sum_k w_k A_k)`,
bilinearly upsampled to the input size (`tf.image.resize`-style half-pixel centres). `A` is the
output of `layer=` (default: the last layer with a spatial output before the explained output).
`grad_cam` is the core shared by Grad-CAM++, Guided Grad-CAM and the keras-vis `visualize_cam`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from vis import engine, grad_modifiers
from vis.copies import DirectCopy
from vis.methods._base import Method, register
from vis.methods._targets import target_score
from vis.utils.model import find_last_conv_layer, model_channel_axis, output_shape

__all__ = ["raw", "grad_cam", "grad_cam_weights", "upsample", "feature_layer", "VARIANTS"]

VARIANTS = ("gradcam", "gradcam++")


def grad_cam_weights(grads: np.ndarray, activations: np.ndarray, method: str = "gradcam",
                     spatial_axes: tuple = (1, 2)) -> np.ndarray:
    """Computes the per-channel weights `w_k` of Grad-CAM or Grad-CAM++.

    Grad-CAM: `w_k = mean_ij g_kij`. Grad-CAM++ (the paper's reference code and tf-keras-vis):
    `alpha_kij = g^2 / (2 g^2 + sum_ij(A_k) g^3)` (`alpha = 0` where the denominator is 0),
    renormalized per channel, `alpha_kij / sum_ij alpha_kij` (a channel whose alphas sum to 0
    keeps them), then `w_k = sum_ij alpha_kij relu(g_kij)`. The reference code's gradients are
    those of `exp(S)`, i.e. `exp(S) g`: the factor `exp(S)` cancels in `alpha` and scales every
    weight of a sample by the same positive number, so it is left out here (normalized maps are
    unchanged; raw maps are those of tf-keras-vis divided by `exp(S)`). Computed in float64
    (`g^3` underflows in float16). The map is then `relu(sum_k w_k A_k)`.

    Args:
        grads: Gradients of the score w.r.t. the feature maps, channels-last `(N, ..., K)`.
        activations: The feature maps `A`, same shape as `grads` (used by Grad-CAM++ only).
        method: The variant, `'gradcam'` or `'gradcam++'`. Defaults to `'gradcam'`.
        spatial_axes: The spatial axes of `grads`. Defaults to `(1, 2)`.

    Returns:
        A float64 array `(N, K)`.

    Raises:
        ValueError: For an unknown variant.

    Example:
        >>> g, a = np.ones((1, 2, 2, 3)), np.ones((1, 2, 2, 3))
        >>> grad_cam_weights(g, a)
        array([[1., 1., 1.]])
        >>> grad_cam_weights(g, a, "gradcam++")  # alphas 1/6 renormalized to 1/4, 4 positions
        array([[1., 1., 1.]])
    """
    if method not in VARIANTS:
        raise ValueError(f"`variant` must be one of {list(VARIANTS)}, got {method!r}.")
    grads = np.asarray(grads, dtype="float64")
    activations = np.asarray(activations, dtype="float64")
    if method == "gradcam":
        return grads.mean(axis=spatial_axes)
    g2 = grads**2
    g3 = g2 * grads
    sum_a = activations.sum(axis=spatial_axes, keepdims=True)
    denom = 2.0 * g2 + sum_a * g3
    alpha = np.where(denom != 0, g2 / np.where(denom != 0, denom, 1.0), 0.0)
    total = alpha.sum(axis=spatial_axes, keepdims=True)
    alpha = alpha / np.where(total != 0, total, 1.0)
    return (alpha * np.maximum(grads, 0)).sum(axis=spatial_axes)


def upsample(cams: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Resizes `(N, h, w)` maps to `(N, *size)` bilinearly, `(N, t)` maps to `(N, T)` linearly.

    Half-pixel centres, as `tf.image.resize(..., "bilinear")` (which Grad-CAM's reference uses)
    computes them: `keras.ops.image.resize`, whose TensorFlow backend is exactly that. A 1-D map
    (a time series) is resized as a `(t, 1)` image, i.e. linear interpolation along time. Maps
    that already have the target size are returned as they are (not copied).

    Args:
        cams: A batch of 1-D or 2-D maps.
        size: The target `(T,)` or `(H, W)`.

    Returns:
        A float32 array `(N, *size)` (or `cams` itself when no resize is needed).

    Raises:
        ValueError: If the maps are not 1-D or 2-D, or `size` does not match their rank.

    Example:
        >>> upsample(np.ones((1, 4, 4), "float32"), (8, 8)).shape
        (1, 8, 8)
        >>> upsample(np.array([[0.0, 1.0]], "float32"), (4,)).round(2)
        array([[0.  , 0.25, 0.75, 1.  ]], dtype=float32)
    """
    size = tuple(int(s) for s in size)
    if cams.shape[1:] == size:
        return cams
    if cams.ndim - 1 != len(size) or len(size) not in (1, 2):
        raise ValueError(
            f"Grad-CAM upsampling supports 1-D and 2-D maps; got maps {cams.shape[1:]} for "
            f"input {size}."
        )
    images = cams[..., None] if len(size) == 2 else cams[:, :, None, None]
    target = size if len(size) == 2 else (size[0], 1)
    resized = keras.ops.image.resize(images.astype("float32"), target, interpolation="bilinear",
                                     data_format="channels_last")
    out = np.asarray(keras.ops.convert_to_numpy(resized))
    return out[..., 0] if len(size) == 2 else out[:, :, 0, 0]


def cam_input(model, x, feature_rank: int) -> int:
    """Which input a CAM map is upsampled to: the one whose rank matches the feature maps.

    For a single-input model, input 0. For several inputs: the first input of the feature
    maps' rank (an image input for 2-D convolutions), else the first input one rank lower
    (a grayscale image without a channel axis), else input 0.
    """
    xs = x if isinstance(x, list) else [x]
    for rank in (feature_rank, feature_rank - 1):
        for k, xk in enumerate(xs):
            if xk.ndim == rank:
                return k
    return 0


def input_spatial_shape(model, x, feature_rank: int | None = None) -> tuple[int, ...]:
    """The spatial shape of a batch of model inputs (channels-first aware).

    Args:
        model: The model.
        x: A batch, or a list of batches (the input matching `feature_rank` is used).
        feature_rank: The rank of the feature maps (batch and channels included). Defaults to
            `None` (the first input).

    Returns:
        The spatial shape: `(H, W)` for images, `(T,)` for sequences.
    """
    xs = x if isinstance(x, list) else [x]
    k = cam_input(model, x, feature_rank) if feature_rank else 0
    xk = xs[k]
    if feature_rank and xk.ndim == feature_rank - 1:  # no channel axis: grayscale (N, H, W)
        return tuple(xk.shape[1:])
    return tuple(xk.shape[2:] if model_channel_axis(model) == 1 else xk.shape[1:-1])


def feature_layer(model, output=-1, layer=None, *, param: str = "layer",
                  output_param: str = "output", modifier=None, what: str = "Grad-CAM"
                  ) -> tuple[str, int]:
    """The layer whose feature maps a CAM weights, and its channel axis.

    Args:
        model: The user's model.
        output: The explained layer, to find the default `layer` before it. Defaults to `-1`.
        layer: A layer identifier. Defaults to `None` (the last layer with a spatial output
            before `output`).
        param: The name of `layer` in error messages. Defaults to `"layer"`.
        output_param: The name of `output` in error messages. Defaults to `"output"`.
        modifier: The backprop modifier of the copy. Defaults to `None`.
        what: The method's name in error messages. Defaults to `"Grad-CAM"`.

    Returns:
        `(path, channel axis)`: the layer's path and `1` or `-1`.

    Raises:
        ValueError: Unknown layers, or a layer without a spatial output.

    Example:
        >>> feature_layer(model)
        ('conv2', -1)
    """
    copy = engine.get_copy(model, modifier)
    if isinstance(copy, DirectCopy):
        raise ValueError(copy.needs_layers(what))
    target_path, _ = copy.layer(output, output_param)
    if layer is None:
        layer_path = find_last_conv_layer(model, before=target_path)
    else:
        layer_path, _ = copy.layer(layer, param)
    found = copy.layers[layer_path]
    shape = output_shape(found)
    if len(shape) < 3:
        raise ValueError(
            f"`{param}`: layer {layer_path!r} has output shape {shape}; {what} needs a "
            "spatial (convolutional) output."
        )
    return layer_path, copy.channel_axis(found)


def grad_cam(model, losses: Sequence, x: np.ndarray, *, output=-1, layer=None,
             variant: str = "gradcam", modifier=None, grad_modifier=None,
             batch_size: int | None = None, param: str = "layer",
             output_param: str = "output") -> np.ndarray:
    """Grad-CAM maps of a score, upsampled to the input's spatial size, not normalized.

    Args:
        model: The user's model (never modified).
        losses: `(Loss, weight)` pairs defining the score.
        x: A validated batch.
        output: The explained layer, to find the default `layer` before it. Defaults to `-1`.
        layer: The layer whose feature maps are weighted. Defaults to `None` (the last layer
            with a spatial output before `output`).
        variant: `'gradcam'` or `'gradcam++'`. Defaults to `'gradcam'`.
        modifier: A backprop modifier used for `d score / d A`. Defaults to `None`.
        grad_modifier: Applied to `d score / d A` before pooling. Defaults to `None`.
        batch_size: Evaluate in chunks. Defaults to `None`.
        param: The name of `layer` in error messages. Defaults to `"layer"`.
        output_param: The name of `output` in error messages. Defaults to `"output"`.

    Returns:
        Non-negative float32 maps `(N, H, W)`.

    Raises:
        ValueError: Unknown variant or layers, or a layer without a spatial output.

    Example:
        >>> from vis.methods._targets import target_score
        >>> cams = grad_cam(model, target_score(-1, y), x)
    """
    if variant not in VARIANTS:
        raise ValueError(f"`variant` must be one of {list(VARIANTS)}, got {variant!r}.")
    layer_path, caxis = feature_layer(model, output, layer, param=param,
                                      output_param=output_param, modifier=modifier)
    _, grads, acts = engine.gradients(model, losses, x, wrt_tensor=layer_path,
                                      backprop_modifier=modifier, batch_size=batch_size,
                                      return_wrt=True)
    if caxis == 1:  # channels_first -> channels_last for the arithmetic below
        grads, acts = np.moveaxis(grads, 1, -1), np.moveaxis(acts, 1, -1)
    grads = np.asarray(grad_modifiers.checked(grad_modifier)(grads))
    spatial = tuple(range(1, grads.ndim - 1))
    weights = grad_cam_weights(grads, acts, variant, spatial)
    cams = np.maximum(np.einsum("n...k,nk->n...", acts.astype("float64"), weights), 0.0)
    size = input_spatial_shape(model, x, acts.ndim)
    if len(size) != cams.ndim - 1:
        raise ValueError(
            f"`{param}`: the feature maps of layer {layer_path!r} have {cams.ndim - 1} spatial "
            f"axes but the input has {len(size)} ({size}); choose a layer of the input's "
            "spatial rank."
        )
    return upsample(cams.astype("float32"), size)


def raw(model, inputs, targets, *, output=-1, layer=None, batch_size: int | None = None):
    """Grad-CAM of each sample's target score: non-negative maps of the input's spatial shape.

    Args:
        model: A Keras model with a spatial (convolutional) layer (never modified).
        inputs: A validated batch.
        targets: One class / unit index per sample.
        output: The output layer whose (pre-softmax) score is explained. Defaults to `-1`.
        layer: The convolutional layer whose feature maps are weighted. Defaults to `None`
            (the last layer with a spatial output).
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        Maps `(N, H, W)`.

    Example:
        >>> cams = raw(model, x, y, layer="conv2")
    """
    return grad_cam(model, target_score(output, targets), inputs, output=output, layer=layer,
                    batch_size=batch_size)


register(Method(
    "gradcam", raw, family="cam", signed=False, output="spatial", aliases=("grad_cam",),
    description="Feature maps of a conv layer weighted by their spatially pooled gradients.",
    paper="Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391",
))
