"""Guided Grad-CAM (Selvaraju et al. 2017): guided backpropagation times Grad-CAM.

Paper: https://arxiv.org/abs/1610.02391. The guided-backprop input gradient multiplied,
pixel by pixel and across channels, by the upsampled Grad-CAM map of the same score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vis.methods import guided_backprop
from vis.methods._base import Method, register
from vis.methods._targets import target_score
from vis.methods.gradcam import grad_cam
from vis.methods.gradient import gradient_of
from vis.utils.model import model_channel_axis

__all__ = ["raw", "guided_grad_cam"]


def guided_grad_cam(model, losses: Sequence, x: np.ndarray, *, output=-1, layer=None,
                    variant: str = "gradcam", modifier=None, batch_size: int | None = None,
                    param: str = "layer", output_param: str = "output",
                    cams: np.ndarray | None = None) -> np.ndarray:
    """Guided backprop of the score times its (upsampled) Grad-CAM, shaped like `x`.

    Args:
        model: The user's model (never modified).
        losses: `(Loss, weight)` pairs defining the score.
        x: A validated batch.
        output: The explained layer. Defaults to `-1`.
        layer: The Grad-CAM layer. Defaults to `None` (the last spatial layer).
        variant: `'gradcam'` or `'gradcam++'`. Defaults to `'gradcam'`.
        modifier: The backprop modifier of the Grad-CAM part. Defaults to `None`.
        batch_size: Evaluate in chunks. Defaults to `None`.
        param: The name of `layer` in error messages. Defaults to `"layer"`.
        output_param: The name of `output` in error messages. Defaults to `"output"`.
        cams: Precomputed Grad-CAM maps `(N, H, W)`. Defaults to `None` (computed).

    Returns:
        Signed maps shaped like `x`.
    """
    if isinstance(x, list):
        raise ValueError(
            "Guided Grad-CAM explains single-input models; for a multi-input model use "
            "'gradcam' (on the image input) and 'guided_backprop' (every input) apart."
        )
    if cams is None:
        cams = grad_cam(model, losses, x, output=output, layer=layer, variant=variant,
                        modifier=modifier, batch_size=batch_size, param=param,
                        output_param=output_param)
    guided = gradient_of(model, losses, x, modifier=guided_backprop.MODIFIER,
                         batch_size=batch_size)
    return guided * np.expand_dims(cams, model_channel_axis(model))


def raw(model, inputs, targets, *, output=-1, layer=None,
        batch_size: int | None = None) -> np.ndarray:
    """Guided Grad-CAM of each sample's target score, signed, shaped like the input.

    Args:
        model: A Keras model with rectifiers and a spatial layer (never modified).
        inputs: A validated batch.
        targets: One class / unit index per sample.
        output: The output layer whose (pre-softmax) score is explained. Defaults to `-1`.
        layer: The Grad-CAM layer. Defaults to `None` (the last spatial layer).
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`.

    Example:
        >>> maps = raw(model, x, y)
    """
    return guided_grad_cam(model, target_score(output, targets), inputs, output=output,
                           layer=layer, batch_size=batch_size)


register(Method(
    "guided_gradcam", raw, family="cam", signed=True, aliases=("guided_grad_cam",),
    description="Guided backpropagation multiplied by the upsampled Grad-CAM map.",
    paper="Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391",
))
