"""Gradient saliency maps (Simonyan et al. 2014), keras-vis style: thin wrappers of `vis.methods`.

Paper: "Deep Inside Convolutional Networks: Visualising Image Classification Models and Saliency
Maps", https://arxiv.org/abs/1312.6034. The map of sample `i` is `d score_i / d x_i`, where the
score is the (spatially averaged) activation of `filter_indices` of a layer, on pre-softmax logits
if the layer ends in a softmax.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from vis import engine
from vis import inputs as _inputs
from vis.losses import ActivationMaximization, Loss
from vis.methods.gradient import gradient_of
from vis.visualization._postprocess import (
    check_flags,
    finish,
    finish_inputs,
    graph_finish,
    warn_if_zero,
)

__all__ = ["visualize_saliency", "visualize_saliency_with_losses"]


def _check_losses(losses) -> list[tuple[Loss, float]]:
    if isinstance(losses, Loss):
        losses = [(losses, 1.0)]
    if not isinstance(losses, Sequence) or not losses:
        raise TypeError("`losses` must be a non-empty list of (vis.losses.Loss, weight) pairs.")
    checked = []
    for item in losses:
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], Loss)):
            raise TypeError(
                f"`losses` items must be (vis.losses.Loss, weight) pairs, got {item!r}."
            )
        weight = float(item[1])
        if not np.isfinite(weight):
            raise ValueError(f"`losses` weight must be finite, got {item[1]!r}.")
        checked.append((item[0], weight))
    return checked


def visualize_saliency_with_losses(
    model: keras.Model,
    losses,
    seed_input,
    wrt_tensor=None,
    grad_modifier="absolute",
    keepdims: bool = False,
    normalize: bool = True,
    backprop_modifier=None,
    batch_size: int | None = None,
) -> np.ndarray:
    """Saliency of a weighted sum of losses: the gradient of `-sum(weight * loss)`.

    The research-oriented form of `visualize_saliency`: with
    `[(ActivationMaximization(layer, idx), 1)]` it gives exactly `visualize_saliency`.

    Args:
        model: A Keras model (Sequential or Functional, nested models allowed). Never modified.
        losses: A list of `(vis.losses.Loss, weight)` pairs.
        seed_input: One sample (no batch axis) or a batch.
        wrt_tensor: Differentiate w.r.t. this layer's output (index, name, path, layer or the
            layer's output tensor) instead of the model input. Defaults to `None` (the input).
        grad_modifier: See `vis.grad_modifiers`. Defaults to `'absolute'`.
        keepdims: Keep the channel axis; `False` takes the max over channels. Defaults to `False`.
        normalize: Min-max scale each map to [0, 1]. Defaults to `True`.
        backprop_modifier: See `vis.backprop_modifiers`. Defaults to `None`.
        batch_size: Evaluate in chunks of this many samples. Defaults to `None` (one batch).

    Returns:
        The maps, with the same leading structure as `seed_input`.

    Raises:
        ValueError: Bad input shape/values, unknown layer, index out of range, unknown modifier,
            or no gradient path from the losses to `wrt_tensor`.
        TypeError: Malformed `losses` or arguments of the wrong type.

    Example:
        >>> from vis.losses import ActivationMaximization
        >>> losses = [(ActivationMaximization("predictions", 3), 1.0)]
        >>> maps = visualize_saliency_with_losses(model, losses, x_test[:8])
    """
    losses = _check_losses(losses)
    batch = _inputs.prepare(model, seed_input, "seed_input")
    caxes = None
    if wrt_tensor is not None:
        copy = engine.get_copy(model)
        caxes = (copy.channel_axis(copy.layer(wrt_tensor, "wrt_tensor")[1]),)
    post = graph_finish(model, batch, grad_modifier, keepdims, normalize, caxes)
    if post is not None:  # the built-in post-processing runs in the compiled function
        _, maps, flags = engine.gradients(model, losses, batch.value, wrt_tensor=wrt_tensor,
                                          backprop_modifier=backprop_modifier,
                                          batch_size=batch_size, post=post)
        many = isinstance(maps, list)
        check_flags(flags if many else [flags], grad_modifier, "gradient map")
        if wrt_tensor is not None:
            return maps[0] if batch.single else maps
        return batch.restore(maps)
    raw = gradient_of(model, losses, batch.value, wrt=wrt_tensor, modifier=backprop_modifier,
                      batch_size=batch_size)
    if wrt_tensor is not None:  # maps of a layer's output: its own channel axis
        warn_if_zero(raw, "gradient map")
        copy = engine.get_copy(model)
        caxis = copy.channel_axis(copy.layer(wrt_tensor, "wrt_tensor")[1])
        return finish(raw, batch.single, grad_modifier, keepdims, normalize, caxis)
    return finish_inputs(model, raw, batch, grad_modifier, keepdims, normalize, "gradient map")


def visualize_saliency(
    model: keras.Model,
    layer_idx,
    filter_indices,
    seed_input,
    wrt_tensor=None,
    backprop_modifier=None,
    grad_modifier="absolute",
    keepdims: bool = False,
    normalize: bool = True,
    batch_size: int | None = None,
) -> np.ndarray:
    """Saliency map of `filter_indices` of a layer w.r.t. the input (keras-vis API).

    The score of sample `i` is the sum over `filter_indices` of the layer's activation for sample
    `i` (for a convolution, each filter's mean over spatial positions). If the layer ends in a
    softmax, its pre-softmax logits are used (as keras-vis advised doing by hand: a softmax score
    can be raised by lowering the other classes). With `grad_modifier=None, normalize=False,
    keepdims=True` the result is exactly `d score_i / d x_i`, per sample.

    For a regression output the default shows what increases it; `grad_modifier='negate'` what
    decreases it and `'small_values'` what keeps it steady.

    Args:
        model: A Keras model (Sequential or Functional, nested models allowed). Never modified.
        layer_idx: Index into `model.layers` (negative allowed), a layer name, a nested path such
            as `"base/conv5"`, or a layer object.
        filter_indices: An int, a list of ints (summed), or `vis.losses.per_sample(y)` for one
            index per sample.
        seed_input: One sample (no batch axis) or a batch.
        wrt_tensor: Differentiate w.r.t. this layer's output instead of the input. Defaults to
            `None`.
        backprop_modifier: `None`, `'guided'`, `'relu'`/`'deconv'` (deconvnet) or a registered
            name (see `vis.backprop_modifiers`). Defaults to `None`.
        grad_modifier: `'absolute'`, `'square'`, `'negate'`, `'relu'`, `'invert'`,
            `'small_values'`, `None`/`'linear'` or a callable. Defaults to `'absolute'`.
        keepdims: Keep the channel axis; `False` takes the max over channels. Defaults to `False`.
        normalize: Min-max scale each map to [0, 1] (a constant map gives zeros). Defaults to
            `True`.
        batch_size: Evaluate in chunks of this many samples. Defaults to `None` (one batch).

    Returns:
        The saliency maps, shaped like `seed_input` (without the channel axis unless
        `keepdims`).

    Raises:
        ValueError: Wrong input shape, NaN/inf input, unknown layer, filter index out of range,
            unknown modifier, or no gradient path from the layer to the input.
        TypeError: Arguments of the wrong type.

    Example:
        >>> maps = visualize_saliency(model, -1, 3, x_test[0])
        >>> maps.shape
        (8, 8)
        >>> guided = visualize_saliency(model, "predictions", 3, x_test[:4],
        ...                             backprop_modifier="guided")
    """
    loss = ActivationMaximization(layer_idx, filter_indices)
    return visualize_saliency_with_losses(
        model, [(loss, 1.0)], seed_input, wrt_tensor=wrt_tensor, grad_modifier=grad_modifier,
        keepdims=keepdims, normalize=normalize, backprop_modifier=backprop_modifier,
        batch_size=batch_size,
    )
