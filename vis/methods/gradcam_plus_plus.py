"""Grad-CAM++ (Chattopadhyay et al. 2018): Grad-CAM with pixel-wise gradient weights.

Paper: "Grad-CAM++: Improved Visual Explanations for Deep Convolutional Networks",
https://arxiv.org/abs/1710.11063. `w_k = sum_ij alpha_kij relu(g_kij)` with
`alpha = g^2 / (2 g^2 + sum_ij(A_k) g^3)` (the closed form for an exponential score),
renormalized per channel to sum to 1 as in the paper's reference code and tf-keras-vis,
`cam = relu(sum_k w_k A_k)`, upsampled (see `vis.methods.gradcam.grad_cam_weights`).
"""

from __future__ import annotations

import numpy as np

from vis.methods._base import Method, register
from vis.methods._targets import target_score
from vis.methods.gradcam import grad_cam

__all__ = ["raw"]


def raw(model, inputs, targets, *, output=-1, layer=None,
        batch_size: int | None = None) -> np.ndarray:
    """Grad-CAM++ of each sample's target score: non-negative maps of the input's spatial shape.

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
        >>> cams = raw(model, x, y)
    """
    return grad_cam(model, target_score(output, targets), inputs, output=output, layer=layer,
                    variant="gradcam++", batch_size=batch_size)


register(Method(
    "gradcam_plus_plus", raw, family="cam", signed=False, output="spatial",
    aliases=("gradcam++", "gradcampp"),
    description="Grad-CAM with pixel-wise weights of the positive gradients.",
    paper="Chattopadhyay et al. 2018, https://arxiv.org/abs/1710.11063",
))
