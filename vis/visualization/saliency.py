"""Gradient saliency maps (Simonyan et al. 2014), keras-vis style: thin wrappers of `vis.methods`.

Paper: "Deep Inside Convolutional Networks: Visualising Image Classification Models and Saliency
Maps", https://arxiv.org/abs/1312.6034. The map of sample `i` is `d score_i / d x_i`, where the
score is the (spatially averaged) activation of `filter_indices` of a layer, on pre-softmax logits
if the layer ends in a softmax.
"""

from __future__ import annotations

import keras
import numpy as np

from vis import engine
from vis.losses import ActivationMaximization
from vis.methods.gradient import gradient_of
from vis.utils import checks
from vis.visualization._keras_vis import as_model, check_losses, prepare_seed
from vis.visualization._postprocess import (
    check_flags,
    finish,
    finish_inputs,
    graph_finish,
    warn_if_zero,
)

__all__ = ["visualize_saliency", "visualize_saliency_with_losses"]


def visualize_saliency_with_losses(
    input_tensor,
    losses,
    seed_input,
    wrt_tensor=None,
    grad_modifier="absolute",
    keepdims: bool = False,
    normalize: bool = True,
    backprop_modifier=None,
    batch_size: int | None = None,
) -> np.ndarray:
    """Saliency of weighted losses: the gradient of `sum(weight * loss)` (keras-vis API).

    keras-vis' convention, exactly: a loss is something to *minimize* (`ActivationMaximization`
    is the negated activation), the map is the gradient of the weighted sum of the losses, and
    `grad_modifier` is applied to it. So a weight of `-1` on `ActivationMaximization` shows what
    *increases* the activation: `[(ActivationMaximization(layer, idx), -1)]` gives exactly
    `visualize_saliency(model, layer, idx, ...)`, and with `grad_modifier=None` the map is
    `+d activation / d x`.

    Args:
        input_tensor: The model's input tensor (`model.input`, keras-vis' signature; a list for
            several inputs), or the `keras.Model` itself. With an input tensor, each loss's
            `layer` must be a layer object (`model.layers[idx]`) or a layer name.
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
        The maps, with the leading structure of `seed_input`; one sample *or a batch of one*
        gives one map without a batch axis, as in keras-vis.

    Raises:
        ValueError: Bad input shape/values, unknown layer, index out of range, unknown modifier,
            or no gradient path from the losses to `wrt_tensor`.
        TypeError: Malformed `losses`, a loss layer given by index with an input tensor, or
            arguments of the wrong type.

    Note:
        vis builds a copy of the model once and reuses it; after changing the architecture in
        place (e.g. `layer.activation = ...`), the change is detected, and `vis.release(model)`
        frees the copies explicitly.

    Example:
        >>> from vis.losses import ActivationMaximization
        >>> losses = [(ActivationMaximization(model.layers[-1], 3), -1)]
        >>> maps = visualize_saliency_with_losses(model.input, losses, x_test[:8])
    """
    losses = check_losses(losses)
    keepdims = checks.boolean(keepdims, "keepdims")
    normalize = checks.boolean(normalize, "normalize")
    model = as_model(input_tensor, losses)
    batch = prepare_seed(model, seed_input)
    # keras-vis differentiates sum(w * loss); the engine's score is -sum(w * loss).
    negated = [(loss, -weight) for loss, weight in losses]
    caxes = None
    if wrt_tensor is not None:
        copy = engine.get_copy(model)
        caxes = (copy.channel_axis(copy.layer(wrt_tensor, "wrt_tensor")[1]),)
    post = graph_finish(model, batch, grad_modifier, keepdims, normalize, caxes)
    if post is not None:  # the built-in post-processing runs in the compiled function
        _, maps, flags = engine.gradients(model, negated, batch.value, wrt_tensor=wrt_tensor,
                                          backprop_modifier=backprop_modifier,
                                          batch_size=batch_size, post=post)
        many = isinstance(maps, list)
        check_flags(flags if many else [flags], grad_modifier, "gradient map")
        if wrt_tensor is not None:
            return maps[0] if batch.single else maps
        return batch.restore(maps)
    raw = gradient_of(model, negated, batch.value, wrt=wrt_tensor, modifier=backprop_modifier,
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
        filter_indices: An int, a list of ints (summed), `vis.losses.per_sample(y)` for one
            index per sample, or `None` for all filters (averaged, as in keras-vis). A 2-D
            array (one-hot labels) is refused: use `per_sample(y.argmax(axis=1))`.
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
        `keepdims`). One sample *or a batch of one* (`x[:1]`) gives one map without a batch
        axis, as in keras-vis.

    Raises:
        ValueError: Wrong input shape, NaN/inf input, unknown layer, filter index out of range,
            one-hot `filter_indices`, unknown modifier, or no gradient path from the layer to
            the input.
        TypeError: Arguments of the wrong type.

    Note:
        vis builds a copy of the model once and reuses it; after changing the architecture in
        place (e.g. `layer.activation = ...`), the change is detected, and `vis.release(model)`
        frees the copies explicitly.

    Example:
        >>> maps = visualize_saliency(model, -1, 3, x_test[0])
        >>> maps.shape
        (8, 8)
        >>> guided = visualize_saliency(model, "predictions", 3, x_test[:4],
        ...                             backprop_modifier="guided")
    """
    checks.model(model)
    # keras-vis: ActivationMaximization decreases as the activation grows; weight -1 makes the
    # gradient point towards increasing it.
    loss = ActivationMaximization(layer_idx, filter_indices)
    return visualize_saliency_with_losses(
        model, [(loss, -1.0)], seed_input, wrt_tensor=wrt_tensor, grad_modifier=grad_modifier,
        keepdims=keepdims, normalize=normalize, backprop_modifier=backprop_modifier,
        batch_size=batch_size,
    )
