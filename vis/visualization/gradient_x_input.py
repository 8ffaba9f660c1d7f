"""Gradient x input (Shrikumar et al. 2016, https://arxiv.org/abs/1605.01713).

`map = x * d score / d x`: for a linear model it is each input's exact contribution `w_i x_i`.
"""

from __future__ import annotations

import keras
import numpy as np

from vis.losses import ActivationMaximization
from vis.methods.gradient_x_input import gradient_x_input_of
from vis.visualization._keras_vis import prepare_seed
from vis.visualization._postprocess import finish_inputs

__all__ = ["visualize_gradient_x_input"]


def visualize_gradient_x_input(
    model: keras.Model,
    layer_idx,
    filter_indices,
    seed_input,
    backprop_modifier=None,
    grad_modifier=None,
    keepdims: bool = False,
    normalize: bool = True,
    batch_size: int | None = None,
) -> np.ndarray:
    """The raw score gradient times the input.

    Args:
        model: A Keras model. Never modified.
        layer_idx: The layer to explain (index, name, nested path or layer).
        filter_indices: An int, a list of ints (summed), or `vis.losses.per_sample(y)`.
        seed_input: One sample or a batch.
        backprop_modifier: See `vis.backprop_modifiers`. Defaults to `None`.
        grad_modifier: Applied to the product. Defaults to `None` (signed).
        keepdims: Keep the channel axis. Defaults to `False`.
        normalize: Min-max scale each map to [0, 1]. Defaults to `True`.
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        The maps, with the leading structure of `seed_input`.
        One sample *or a batch of one* (`x[:1]`) gives one map without a batch axis,
        as in keras-vis.

    Raises:
        ValueError: The errors of `visualize_saliency`.

    Note:
        After changing the model's architecture in place (e.g. `layer.activation = ...`),
        vis rebuilds its copy of the model; `vis.release(model)` frees the copies.

    Example:
        >>> gxi = visualize_gradient_x_input(model, -1, 3, x_test[:4])
    """
    batch = prepare_seed(model, seed_input)
    loss = ActivationMaximization(layer_idx, filter_indices)
    raw = gradient_x_input_of(model, [(loss, 1.0)], batch.value, modifier=backprop_modifier,
                              batch_size=batch_size)
    return finish_inputs(model, raw, batch, grad_modifier, keepdims, normalize,
                         "gradient x input map")
