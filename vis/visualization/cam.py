"""Grad-CAM, Grad-CAM++ and Guided Grad-CAM, keras-vis style: a thin wrapper of `vis.methods`.

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

from vis import engine
from vis.losses import ActivationMaximization
from vis.methods.gradcam import VARIANTS, grad_cam, grad_cam_weights, upsample
from vis.methods.guided_gradcam import guided_grad_cam
from vis.utils.image import normalize as _normalize
from vis.utils.model import find_last_conv_layer, model_channel_axis
from vis.visualization._postprocess import finish, warn_if_zero

__all__ = ["visualize_cam", "grad_cam_weights", "upsample"]


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
    method: str = VARIANTS[0],
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
    if method not in VARIANTS:
        raise ValueError(f"`method` must be one of {list(VARIANTS)}, got {method!r}.")
    x, single = engine.prepare_input(model, seed_input)
    if penultimate_layer_idx is None:  # found here, so that an error names this parameter
        target_path, _ = engine.get_copy(model, backprop_modifier).layer(layer_idx, "layer_idx")
        penultimate_layer_idx = find_last_conv_layer(model, before=target_path,
                                                     param="penultimate_layer_idx")
    loss = ActivationMaximization(layer_idx, filter_indices)
    cams = grad_cam(model, [(loss, 1.0)], x, output=layer_idx, layer=penultimate_layer_idx,
                    variant=method, modifier=backprop_modifier, grad_modifier=grad_modifier,
                    batch_size=batch_size, param="penultimate_layer_idx",
                    output_param="layer_idx")
    if not guided:
        warn_if_zero(cams, "Grad-CAM")
        if normalize:
            cams = _normalize(cams, batch=True)
        return cams[0] if single else cams
    product = guided_grad_cam(model, [(loss, 1.0)], x, batch_size=batch_size, cams=cams)
    warn_if_zero(product, "Guided Grad-CAM")
    return finish(product, single, None, keepdims, normalize, model_channel_axis(model))
