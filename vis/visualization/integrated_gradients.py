"""Integrated Gradients (Sundararajan et al. 2017, https://arxiv.org/abs/1703.01365), keras-vis style.

A thin wrapper of `vis.methods.integrated_gradients` (whose core functions `integrated_gradients`
and `trapezoid_weights` can be imported from here too).

`IG(x) = (x - x') * integral_0^1 grad f(x' + a (x - x')) da`, by the trapezoid rule over `steps`
points `a = linspace(0, 1, steps)` with weights `1/(steps-1)` and halved end weights (they sum to
1). Completeness: `sum(IG) ~= f(x) - f(x')`. All steps of an input are evaluated in one vectorized
batch (chunked by `batch_size`).
"""

from __future__ import annotations

import keras
import numpy as np

from vis.losses import ActivationMaximization
from vis.methods.integrated_gradients import integrated_gradients, trapezoid_weights  # noqa: F401
from vis.utils import checks
from vis.visualization._keras_vis import prepare_seed
from vis.visualization._postprocess import finish_inputs

__all__ = ["visualize_integrated_gradients"]


def visualize_integrated_gradients(
    model: keras.Model,
    layer_idx,
    filter_indices,
    seed_input,
    baseline=None,
    steps: int = 50,
    batch_size: int | None = None,
    grad_modifier=None,
    keepdims: bool = False,
    normalize: bool = True,
    backprop_modifier=None,
) -> np.ndarray:
    """Integrated Gradients of `filter_indices` of a layer from `baseline` to the input.

    Args:
        model: A Keras model. Never modified.
        layer_idx: The layer to explain (index, name, nested path or layer).
        filter_indices: An int, a list of ints (summed), or `vis.losses.per_sample(y)`.
        seed_input: One sample or a batch.
        baseline: `None` (zeros), an array (one sample or a batch), or a callable
            `batch -> baseline batch`. Defaults to `None`.
        steps: Trapezoid points (>= 2). Defaults to `50`.
        batch_size: Maximum path points per gradient call (does not change the result).
            Defaults to `None`.
        grad_modifier: Applied to the attributions. Defaults to `None` (signed).
        keepdims: Keep the channel axis. Defaults to `False`.
        normalize: Min-max scale each map to [0, 1]. Defaults to `True`.
        backprop_modifier: See `vis.backprop_modifiers`. Defaults to `None`.

    Returns:
        The attribution maps, with the leading structure of `seed_input`.
        One sample *or a batch of one* (`x[:1]`) gives one map without a batch axis,
        as in keras-vis.

    Raises:
        ValueError: Bad `steps`, `baseline`, `batch_size`, or the errors of `visualize_saliency`.

    Note:
        After changing the model's architecture in place (e.g. `layer.activation = ...`),
        vis rebuilds its copy of the model; `vis.release(model)` frees the copies.

    Example:
        >>> ig = visualize_integrated_gradients(model, -1, 3, x_test[:2], steps=64,
        ...                                     keepdims=True, normalize=False)
    """
    batch = prepare_seed(model, seed_input)
    if batch_size is not None:
        batch_size = checks.positive_int(batch_size, "batch_size")
    loss = ActivationMaximization(layer_idx, filter_indices)
    raw, _ = integrated_gradients(model, [(loss, 1.0)], batch.value, baseline, steps, batch_size,
                                  backprop_modifier)
    return finish_inputs(model, raw, batch, grad_modifier, keepdims, normalize,
                         "Integrated Gradients map")
