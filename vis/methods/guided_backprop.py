"""Guided backpropagation (Springenberg et al. 2015): the gradient through guided rectifiers.

Paper: "Striving for Simplicity: The All Convolutional Net", https://arxiv.org/abs/1412.6806.
Every rectifier passes the gradient only where the incoming gradient and the forward unit are
both positive: `g_in = g_out * [g_out > 0] * [z > 0]` (`vis.backprop_modifiers.guided`).
"""

from __future__ import annotations

import numpy as np

from vis.methods._base import Method, register
from vis.methods._targets import target_score
from vis.methods.gradient import gradient_of

__all__ = ["raw", "MODIFIER"]

MODIFIER = "guided"


def raw(model, inputs, targets, *, output=-1, batch_size: int | None = None) -> np.ndarray:
    """Guided backpropagation of each sample's target score, signed.

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
    "guided_backprop", raw, family="gradient", signed=True, token_reduction="max_abs", aliases=("guided",),
    description="Gradient through rectifiers that pass only positive gradients at active units.",
    paper="Springenberg et al. 2015, https://arxiv.org/abs/1412.6806",
))
