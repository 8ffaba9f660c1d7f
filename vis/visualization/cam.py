"""Grad-CAM, Grad-CAM++ and Guided Grad-CAM.

- Grad-CAM (Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391):
  `w_k = mean_ij d score / d A_k[ij]`, `cam = relu(sum_k w_k A_k)`, bilinearly upsampled to the
  input size (`tf.image.resize`, half-pixel centres).
- Grad-CAM++ (Chattopadhyay et al. 2018, https://arxiv.org/abs/1710.11063):
  `w_k = sum_ij alpha_kij relu(g_kij)` with `alpha = g^2 / (2 g^2 + sum_ij(A_k) g^3)` (the
  closed form for an exponential score), `cam = relu(sum_k w_k A_k)`.
- Guided Grad-CAM: the guided-backprop map times the upsampled Grad-CAM.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from vis import grad_modifiers
from vis.losses import ActivationMaximization
from vis.utils.image import normalize as _normalize
from vis.utils.model import find_last_conv_layer, model_channel_axis
from vis.visualization import engine
from vis.visualization._postprocess import finish, warn_if_zero

__all__ = ["visualize_cam", "grad_cam_weights", "upsample"]

_METHODS = ("gradcam", "gradcam++")


def grad_cam_weights(grads: np.ndarray, activations: np.ndarray, method: str = "gradcam",
                     spatial_axes: tuple = (1, 2)) -> np.ndarray:
    """Computes the per-channel weights `w_k` of Grad-CAM or Grad-CAM++.

    Grad-CAM: `w_k = mean_ij g_kij`. Grad-CAM++: `w_k = sum_ij alpha_kij relu(g_kij)` with
    `alpha = g^2 / (2 g^2 + sum_ij(A_k) g^3)` (`alpha = 0` where the denominator is 0). Computed
    in float64 (`g^3` underflows in float16). The map is then `relu(sum_k w_k A_k)`.

    Args:
        grads: Gradients of the score w.r.t. the feature maps, channels-last `(N, ..., K)`.
        activations: The feature maps `A`, same shape as `grads` (used by Grad-CAM++ only).
        method: `'gradcam'`, or `'gradcam++'`; any other value is computed as `'gradcam++'`
            (`visualize_cam` validates it). Defaults to `'gradcam'`.
        spatial_axes: The spatial axes of `grads`. Defaults to `(1, 2)`.

    Returns:
        A float64 array `(N, K)`.

    Example:
        >>> g, a = np.ones((1, 2, 2, 3)), np.ones((1, 2, 2, 3))
        >>> grad_cam_weights(g, a)
        array([[1., 1., 1.]])
        >>> grad_cam_weights(g, a, "gradcam++")  # 4 positions x alpha = 1 / (2 + 4)
        array([[0.66666667, 0.66666667, 0.66666667]])
    """
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {list(_METHODS)}, got {method!r}.")
    grads = np.asarray(grads, dtype="float64")
    activations = np.asarray(activations, dtype="float64")
    if method == "gradcam":
        return grads.mean(axis=spatial_axes)
    g2 = grads**2
    g3 = g2 * grads
    sum_a = activations.sum(axis=spatial_axes, keepdims=True)
    denom = 2.0 * g2 + sum_a * g3
    alpha = np.where(denom != 0, g2 / np.where(denom != 0, denom, 1.0), 0.0)
    return (alpha * np.maximum(grads, 0)).sum(axis=spatial_axes)


def upsample(cams: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Resizes `(N, h, w)` maps to `(N, *size)`, bilinearly with half-pixel centres.

    Uses `tf.image.resize(..., method="bilinear")`, as the Grad-CAM reference does; maps that
    already have the target size are returned as they are (not copied).

    Args:
        cams: A batch of 2-D maps `(N, h, w)`.
        size: The target `(H, W)`.

    Returns:
        A float32 array `(N, H, W)` (or `cams` itself when no resize is needed).

    Raises:
        ValueError: If the maps are not 2-D or `size` does not have two entries.

    Example:
        >>> upsample(np.ones((1, 4, 4), "float32"), (8, 8)).shape
        (1, 8, 8)
    """
    if cams.shape[1:] == tuple(size):
        return cams
    if cams.ndim != 3 or len(size) != 2:
        raise ValueError(
            f"Grad-CAM upsampling supports 2-D maps; got maps {cams.shape[1:]} for input {size}."
        )
    return tf.image.resize(cams[..., None], size, method="bilinear").numpy()[..., 0]


def visualize_cam(
    model: keras.Model,
    layer_idx,
    filter_indices,
    seed_input,
    penultimate_layer_idx=None,
    backprop_modifier=None,
    grad_modifier=None,
    normalize: bool = True,
    guided: bool = False,
    method: str = "gradcam",
    keepdims: bool = False,
    batch_size: int | None = None,
) -> np.ndarray:
    """Grad-CAM heat map of `filter_indices` of a layer, upsampled to the input size.

    Args:
        model: A Keras model. Never modified.
        layer_idx: The layer whose `filter_indices` are explained (index, name, path or layer);
            a softmax layer is explained on its pre-softmax logits.
        filter_indices: An int, a list of ints (summed), or `vis.losses.per_sample(y)`.
        seed_input: One sample or a batch.
        penultimate_layer_idx: The convolutional layer whose feature maps are weighted. Defaults
            to `None`: the last layer with a spatial output before `layer_idx`.
        backprop_modifier: Applied when computing `d score / d A`. Defaults to `None`.
        grad_modifier: Applied to `d score / d A` before pooling. Defaults to `None`.
        normalize: Min-max scale each map to [0, 1]. Defaults to `True`.
        guided: Return Guided Grad-CAM: the guided-backprop input gradient times the
            upsampled Grad-CAM. Defaults to `False`.
        method: `'gradcam'` or `'gradcam++'`. Defaults to `'gradcam'`.
        keepdims: With `guided=True`, keep the channel axis (else max over channels). Defaults
            to `False`.
        batch_size: Evaluate in chunks of this many samples. Defaults to `None`.

    Returns:
        Maps of the input's spatial size, `(H, W)` per sample (plus channels for
        `guided=True, keepdims=True`), with the leading structure of `seed_input`.

    Raises:
        ValueError: Unknown `method`, layers, indices out of range, bad input, or a penultimate
            layer without a spatial output.

    Example:
        >>> cam = visualize_cam(model, -1, 3, x_test[0])
        >>> ggc = visualize_cam(model, -1, 3, x_test[:4], guided=True)
    """
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {list(_METHODS)}, got {method!r}.")
    x, single = engine.prepare_input(model, seed_input)
    copy = engine.get_copy(model, backprop_modifier)
    target_path, _ = copy.layer(layer_idx, "layer_idx")
    if penultimate_layer_idx is None:
        penultimate_path = find_last_conv_layer(model, before=target_path)
    else:
        penultimate_path, _ = copy.layer(penultimate_layer_idx, "penultimate_layer_idx")
    penultimate = copy.layers[penultimate_path]
    rank = len(penultimate.output.shape)
    if rank < 3:
        raise ValueError(
            f"`penultimate_layer_idx`: layer {penultimate_path!r} has output shape "
            f"{tuple(penultimate.output.shape)}; Grad-CAM needs a spatial (convolutional) output."
        )
    caxis = copy.channel_axis(penultimate)
    loss = ActivationMaximization(layer_idx, filter_indices)
    _, grads, acts = engine.gradients(
        model, [(loss, 1.0)], x, wrt_tensor=penultimate_path,
        backprop_modifier=backprop_modifier, batch_size=batch_size, return_wrt=True,
    )
    if caxis == 1:  # channels_first -> channels_last for the arithmetic below
        grads, acts = np.moveaxis(grads, 1, -1), np.moveaxis(acts, 1, -1)
    grads = np.asarray(grad_modifiers.get(grad_modifier)(grads))
    spatial = tuple(range(1, grads.ndim - 1))
    weights = grad_cam_weights(grads, acts, method, spatial)
    cams = np.maximum(np.einsum("n...k,nk->n...", acts.astype("float64"), weights), 0.0)
    input_axis = model_channel_axis(model)
    in_spatial = x.shape[2:] if input_axis == 1 else x.shape[1:-1]
    cams = upsample(cams.astype("float32"), tuple(in_spatial))
    if not guided:
        warn_if_zero(cams, "Grad-CAM")
        if normalize:
            cams = _normalize(cams, batch=True)
        return cams[0] if single else cams
    guided_loss = ActivationMaximization(layer_idx, filter_indices)
    _, guided_grads = engine.gradients(
        model, [(guided_loss, 1.0)], x, backprop_modifier="guided", batch_size=batch_size
    )
    product = guided_grads * np.expand_dims(cams, input_axis)
    warn_if_zero(product, "Guided Grad-CAM")
    return finish(product, single, None, keepdims, normalize, input_axis)
