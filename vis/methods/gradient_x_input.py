"""Gradient x input (Shrikumar et al. 2016): `x * d score / d x`.

Paper: "Not Just a Black Box: Learning Important Features Through Propagating Activation
Differences", https://arxiv.org/abs/1605.01713. For a linear model it is each input's exact
contribution `w_i x_i`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vis import engine
from vis.methods._base import Method, register
from vis.methods._targets import target_score

__all__ = ["raw", "gradient_x_input_of"]


def gradient_x_input_of(model, losses: Sequence, x, *, modifier=None,
                        batch_size: int | None = None):
    """`x * d score / d x` for the score of `losses`, per input.

    Integer inputs are explained in the space of the layer they feed: the embedding output
    times the gradient w.r.t. it.

    Example:
        >>> from vis.methods._targets import target_score
        >>> maps = gradient_x_input_of(model, target_score(-1, y), x)
    """
    _, grads, values = engine.gradients(model, losses, x, backprop_modifier=modifier,
                                        batch_size=batch_size, return_wrt=True)
    if isinstance(grads, list):
        return [g * v for g, v in zip(grads, values)]
    return grads * values


def raw(model, inputs, targets, *, output=-1, batch_size: int | None = None) -> np.ndarray:
    """The gradient of each sample's target score times the input, signed.

    Args:
        model: A Keras model (never modified).
        inputs: A validated batch.
        targets: One class / unit index per sample.
        output: The output layer whose (pre-softmax) score is explained. Defaults to `-1`.
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`.

    Example:
        >>> maps = raw(model, x, y)
    """
    return gradient_x_input_of(model, target_score(output, targets), inputs,
                               batch_size=batch_size)


register(Method(
    "gradient_x_input", raw, family="gradient", signed=True, aliases=("input_x_gradient",),
    description="Input times the gradient of the target score (exact w*x for linear models).",
    paper="Shrikumar et al. 2016, https://arxiv.org/abs/1605.01713",
))
