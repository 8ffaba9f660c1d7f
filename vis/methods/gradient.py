"""Gradient saliency (Simonyan et al. 2014): `d score / d x`.

Paper: "Deep Inside Convolutional Networks: Visualising Image Classification Models and Saliency
Maps", https://arxiv.org/abs/1312.6034. The map of sample `i` is the gradient of its target's
pre-softmax score w.r.t. the input. `gradient_of` is the core that every gradient-family method
and the keras-vis functions share.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vis import engine
from vis.methods._base import Method, register
from vis.methods._targets import predicted_score, target_score

__all__ = ["raw", "gradient_of", "predicted"]


def gradient_of(model, losses: Sequence, x, *, wrt=None, modifier=None,
                batch_size: int | None = None) -> np.ndarray:
    """The gradient of the score `-sum_j weight_j * loss_j` w.r.t. the input (or a layer).

    Args:
        model: The user's model (never modified).
        losses: `(vis.losses.Loss, weight)` pairs defining the score.
        x: A validated batch (see `vis.engine.prepare_input`).
        wrt: `None` (the input) or a layer whose output to differentiate against. Defaults to
            `None`.
        modifier: A backprop modifier (`'guided'`, `'deconvnet'`, ...). Defaults to `None`.
        batch_size: Evaluate in chunks of this many samples. Defaults to `None`.

    Returns:
        The raw gradients, shaped like `x` (or the layer's output).

    Example:
        >>> from vis.methods._targets import target_score
        >>> g = gradient_of(model, target_score(-1, y), x)
    """
    _, grads = engine.gradients(model, losses, x, wrt_tensor=wrt, backprop_modifier=modifier,
                                batch_size=batch_size)
    return grads


def raw(model, inputs, targets, *, output=-1, batch_size: int | None = None) -> np.ndarray:
    """The gradient of each sample's target score w.r.t. the input, signed.

    Args:
        model: A Keras model (never modified).
        inputs: A validated batch.
        targets: One class / unit index per sample (1-D int array).
        output: The output layer whose (pre-softmax) score is explained. Defaults to `-1`.
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`.

    Example:
        >>> maps = raw(model, x, y)
    """
    return gradient_of(model, target_score(output, targets), inputs, batch_size=batch_size)


def predicted(model, inputs, *, output=-1, batch_size: int | None = None) -> np.ndarray | None:
    """`raw` for each sample's predicted class, in one compiled pass (no forward pass first).

    What `vis.explain(model, x)` runs for the default method and `targets=None`: the same maps
    as `raw(model, x, resolve_targets(model, x, None))`, with the arg-max taken inside the
    gradient pass (`vis.methods._targets.PredictedScore`).

    Args:
        model: A Keras model (never modified).
        inputs: A validated batch.
        output: The output layer. Defaults to `-1`.
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`, or `None` where the output is not `(N, units)` (use the
        two-pass path then).
    """
    losses = predicted_score(model, output)
    if losses is None:
        return None
    return gradient_of(model, losses, inputs, batch_size=batch_size)


register(Method(
    "gradient", raw, family="gradient", signed=True, token_reduction="max_abs", aliases=("saliency", "vanilla"),
    description="Gradient of the target score w.r.t. the input (vanilla saliency).",
    paper="Simonyan et al. 2014, https://arxiv.org/abs/1312.6034",
))
