"""Grad-CAM, Grad-CAM++ and Guided Grad-CAM, keras-vis style: a thin wrapper of `vis.methods`.

- Grad-CAM (Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391):
  `w_k = mean_ij d score / d A_k[ij]`, `cam = relu(sum_k w_k A_k)`, bilinearly upsampled to the
  input size (`tf.image.resize`, half-pixel centres).
- Grad-CAM++ (Chattopadhyay et al. 2018, https://arxiv.org/abs/1710.11063):
  `w_k = sum_ij alpha_kij relu(g_kij)` with `alpha = g^2 / (2 g^2 + sum_ij(A_k) g^3)` (the
  closed form for an exponential score) renormalized per channel to sum to 1 (the reference
  code's and tf-keras-vis's), `cam = relu(sum_k w_k A_k)`.
- Guided Grad-CAM: the guided-backprop map times the upsampled Grad-CAM.
"""

from __future__ import annotations

import keras
import numpy as np

from vis import engine
from vis.losses import ActivationMaximization
from vis.methods.gradcam import VARIANTS, grad_cam, grad_cam_weights, upsample
from vis.methods.guided_gradcam import guided_grad_cam
from vis.utils import checks
from vis.utils.image import normalize as _normalize
from vis.utils.model import find_last_conv_layer, model_channel_axis
from vis.visualization._keras_vis import as_model, check_losses, prepare_seed
from vis.visualization._postprocess import finish, warn_if_zero

__all__ = ["visualize_cam", "visualize_cam_with_losses", "grad_cam_weights", "upsample"]


def visualize_cam_with_losses(
    input_tensor,
    losses,
    seed_input,
    penultimate_layer,
    grad_modifier=None,
    normalize: bool = True,
    method: str = VARIANTS[0],
    backprop_modifier=None,
    batch_size: int | None = None,
) -> np.ndarray:
    """Grad-CAM of weighted losses (keras-vis API): feature maps weighted by the gradients of
    `sum(weight * loss)`.

    keras-vis' convention, as in `visualize_saliency_with_losses`: the gradient of the weighted
    sum of the losses, so `[(ActivationMaximization(layer, idx), -1)]` explains what increases
    the activation and gives exactly `visualize_cam(model, layer, idx, ...)`.

    Args:
        input_tensor: The model's input tensor (`model.input`; a list for several inputs), or
            the `keras.Model` itself. With an input tensor, layers must be layer objects or
            names.
        losses: A list of `(vis.losses.Loss, weight)` pairs.
        seed_input: One sample or a batch.
        penultimate_layer: The layer whose feature maps are weighted (a layer object, name,
            path or index of the model).
        grad_modifier: Applied to the gradients before pooling. Defaults to `None`.
        normalize: Min-max scale each map to [0, 1]. Defaults to `True`.
        method: `'gradcam'` or `'gradcam++'`. Defaults to `'gradcam'`.
        backprop_modifier: Applied when computing the gradients. Defaults to `None`.
        batch_size: Evaluate in chunks of this many samples. Defaults to `None`.

    Returns:
        Maps of the input's spatial size; one sample *or a batch of one* gives one map
        without a batch axis, as in keras-vis.

    Raises:
        ValueError: Unknown `method` or layers, indices out of range, bad input, or a
            penultimate layer without a spatial output.
        TypeError: Malformed `losses` or arguments of the wrong type.

    Example:
        >>> from vis.losses import ActivationMaximization
        >>> losses = [(ActivationMaximization(model.layers[-1], 3), -1)]
        >>> cam = visualize_cam_with_losses(model.input, losses, x_test[0], model.layers[2])
    """
    if method not in VARIANTS:
        raise ValueError(f"`method` must be one of {list(VARIANTS)}, got {method!r}.")
    losses = check_losses(losses)
    normalize = checks.boolean(normalize, "normalize")
    model = as_model(input_tensor, losses, extra_layers=[penultimate_layer])
    batch = prepare_seed(model, seed_input)
    negated = [(loss, -weight) for loss, weight in losses]
    cams = grad_cam(model, negated, batch.value, output=losses[0][0].layer,
                    layer=penultimate_layer, variant=method, modifier=backprop_modifier,
                    grad_modifier=grad_modifier, batch_size=batch_size,
                    param="penultimate_layer", output_param="losses")
    warn_if_zero(cams, "Grad-CAM")
    if normalize:
        cams = _normalize(cams, batch=True)
    return cams[0] if batch.single else cams


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
        filter_indices: An int, a list of ints (summed), `vis.losses.per_sample(y)`, or `None`
            (all filters, averaged).
        seed_input: One sample or a batch.
        penultimate_layer_idx: The convolutional layer whose feature maps are weighted. Defaults
            to `None`: the last convolution before `layer_idx`, or the last layer after it
            that keeps its output shape (BatchNorm, activation, Dropout; see
            `vis.utils.model.find_last_conv_layer`).
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
        `guided=True, keepdims=True`), with the leading structure of `seed_input`. One sample
        *or a batch of one* (`x[:1]`) gives one map without a batch axis, as in keras-vis.

    Raises:
        ValueError: Unknown `method`, layers, indices out of range, bad input, or a penultimate
            layer without a spatial output.
        TypeError: `normalize`, `guided` or `keepdims` not a boolean.

    Note:
        After changing the model's architecture in place (e.g. `layer.activation = ...`), vis
        rebuilds its copy of the model; `vis.release(model)` frees the copies.

    Example:
        >>> cam = visualize_cam(model, -1, 3, x_test[0])
        >>> ggc = visualize_cam(model, -1, 3, x_test[:4], guided=True)
    """
    if method not in VARIANTS:
        raise ValueError(f"`method` must be one of {list(VARIANTS)}, got {method!r}.")
    normalize = checks.boolean(normalize, "normalize")
    if not isinstance(guided, (bool, np.bool_)):
        raise TypeError(f"`guided` must be True or False, got {guided!r}.")
    keepdims = checks.boolean(keepdims, "keepdims")
    batch = prepare_seed(model, seed_input)
    x, single = batch.value, batch.single
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
