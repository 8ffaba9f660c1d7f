"""Deconvnet (Zeiler & Fergus 2014): the gradient through rectified backward rectifiers.

Paper: "Visualizing and Understanding Convolutional Networks", https://arxiv.org/abs/1311.2901.
Every rectifier passes the positive part of the incoming gradient, whatever the forward input:
`g_in = relu(g_out)` (`vis.backprop_modifiers.deconv`).
"""

from __future__ import annotations

import numpy as np

from vis.methods._base import Method, register
from vis.methods._targets import target_score
from vis.methods.gradient import gradient_of

__all__ = ["raw", "MODIFIER"]

MODIFIER = "deconvnet"


def raw(model, inputs, targets, *, output=-1, batch_size: int | None = None) -> np.ndarray:
    """Deconvnet map of each sample's target score, signed.

    Args:
        model: A Keras model with rectifiers (never modified).
        inputs: A validated batch.
        targets: One class / unit index per sample.
        output: The output layer whose (pre-softmax) score is explained. Defaults to `-1`.
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`.

    Example:
        >>> maps = raw(model, x, y)
    """
    return gradient_of(model, target_score(output, targets), inputs, modifier=MODIFIER,
                       batch_size=batch_size)


register(Method(
    "deconvnet", raw, family="gradient", signed=True, token_reduction="max_abs", aliases=("deconv",),
    description="Gradient through rectifiers that pass only the positive incoming gradient.",
    paper="Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901",
))
