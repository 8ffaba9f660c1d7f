"""Layer-CAM (Jiang et al. 2021): feature maps weighted pixel by pixel by positive gradients.

Paper: "LayerCAM: Exploring Hierarchical Class Activation Maps for Localization", IEEE TIP 2021,
https://doi.org/10.1109/TIP.2021.3089943. At a convolutional layer with feature maps `A_k`,
`M = ReLU(sum_k ReLU(d y_c / d A_k) * A_k)` (element-wise weights, unlike Grad-CAM's pooled
ones), bilinearly upsampled to the input. It works at any convolutional layer, shallow ones
giving fine detail. Several layers are fused as in the paper: each upsampled map is scaled by
`tanh(gamma * M / max(M))` (Eq. 9) and the scaled maps are combined by their element-wise
maximum.
"""

from __future__ import annotations

import numpy as np

from vis import engine
from vis.methods._base import Method, register
from vis.methods._perturb import map_dtype
from vis.methods._targets import target_score
from vis.methods.gradcam import cam_input, feature_layer, input_spatial_shape
from vis.methods.gradcam import upsample as upsample_maps

__all__ = ["raw", "layer_cam"]


def layer_cam(model, losses, x: np.ndarray, *, output=-1, layer=None,
              batch_size: int | None = None) -> np.ndarray:
    """The Layer-CAM of one layer at its own resolution, `(N, h, w)`, float64.

    Args:
        model: The user's model (never modified).
        losses: `(Loss, weight)` pairs defining the score.
        x: A validated batch.
        output: The explained layer (to find the default `layer`). Defaults to `-1`.
        layer: The convolutional layer. Defaults to `None` (the last spatial layer).
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        `ReLU(sum_k ReLU(grad_k) * A_k)`.

    Example:
        >>> cams = layer_cam(model, target_score(-1, y), x, layer="conv1")
    """
    path, caxis = feature_layer(model, output, layer, what="Layer-CAM")
    _, grads, acts = engine.gradients(model, losses, x, wrt_tensor=path, batch_size=batch_size,
                                      return_wrt=True)
    weighted = np.maximum(grads.astype("float64"), 0.0) * acts.astype("float64")
    return np.maximum(weighted.sum(axis=1 if caxis == 1 else -1), 0.0)


def raw(model, inputs, targets, *, output=-1, layer=None, gamma: float = 2.0,
        upsample: bool = True, batch_size: int | None = None) -> np.ndarray:
    """Layer-CAM maps of one layer, or of several layers fused.

    Args:
        model: A Keras model with convolutional layers (never modified).
        inputs: A validated batch of images (a list of batches for a multi-input model: the
            maps are upsampled to the input of the feature maps' rank, as Grad-CAM's).
        targets: One class / unit index per sample.
        output: The output layer whose (pre-softmax) score is explained. Defaults to `-1`.
        layer: A convolutional layer, or a list of them to fuse. Defaults to `None` (the last
            layer with a spatial output).
        gamma: The scale `gamma` of the fusion of several layers. Defaults to `2.0`.
        upsample: Upsample to the input's spatial shape. Defaults to `True` (`False`: the
            layer's resolution; one layer only).
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        Non-negative maps `(N, H, W)` (or the layer's `(N, h, w)` with `upsample=False`).
        Fused maps lie in [0, tanh(gamma)].

    Raises:
        ValueError: Unknown or non-spatial layers, an empty list, `upsample=False` with
            several layers, or a `gamma` that is not a positive number.

    Example:
        >>> cams = raw(model, x, y, layer=["conv1", "conv2"])
    """
    if not isinstance(upsample, (bool, np.bool_)):
        raise TypeError(f"`upsample` must be True or False, got {upsample!r}.")
    layers = list(layer) if isinstance(layer, (list, tuple)) else [layer]
    if not layers:
        raise ValueError("`layer` is an empty list; give one layer or several to fuse.")
    if isinstance(gamma, (bool, np.bool_)) or not isinstance(gamma, (int, float, np.number)) \
            or not np.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"`gamma` must be a positive number, got {gamma!r}.")
    if not upsample and len(layers) > 1:
        raise ValueError("`upsample=False` needs one `layer`: the maps of several layers are "
                         "fused at the input's resolution.")
    losses = target_score(output, targets)
    cams = [layer_cam(model, losses, inputs, output=output, layer=one, batch_size=batch_size)
            for one in layers]
    # a multi-input model: the maps refer to the input of the feature maps' rank (the image)
    image = inputs[cam_input(model, inputs, cams[0].ndim + 1)] \
        if isinstance(inputs, list) else inputs
    dtype = map_dtype(np.asarray(image))
    if not upsample:
        return cams[0].astype(dtype)
    size = input_spatial_shape(model, inputs, cams[0].ndim + 1)
    cams = [upsample_maps(c.astype("float32"), size).astype("float64") for c in cams]
    if len(cams) == 1:
        return cams[0].astype(dtype)
    fused = None
    for cam in cams:
        peak = cam.reshape(len(cam), -1).max(axis=1).reshape((-1,) + (1,) * (cam.ndim - 1))
        scaled = np.tanh(gamma * cam / np.where(peak > 0, peak, 1.0))
        fused = scaled if fused is None else np.maximum(fused, scaled)
    return fused.astype(dtype)


register(Method(
    "layercam", raw, family="cam", signed=False, output="spatial", aliases=("layer_cam",),
    description="Feature maps weighted element-wise by their positive gradients; any layer(s).",
    paper="Jiang et al. 2021, https://doi.org/10.1109/TIP.2021.3089943",
))
