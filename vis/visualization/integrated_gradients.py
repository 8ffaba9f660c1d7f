"""Integrated Gradients (Sundararajan et al. 2017, https://arxiv.org/abs/1703.01365).

`IG(x) = (x - x') * integral_0^1 grad f(x' + a (x - x')) da`, by the trapezoid rule over `steps`
points `a = linspace(0, 1, steps)` with weights `1/(steps-1)` and halved end weights (they sum to
1). Completeness: `sum(IG) ~= f(x) - f(x')`. All steps of an input are evaluated in one vectorized
batch (chunked by `batch_size`).
"""

from __future__ import annotations

import keras
import numpy as np

from vis.losses import ActivationMaximization
from vis.utils.model import model_channel_axis
from vis.visualization import engine
from vis.visualization._postprocess import finish, warn_if_zero
from vis.visualization.smoothgrad import _check_positive_int, _repeat_loss

__all__ = ["visualize_integrated_gradients", "integrated_gradients", "trapezoid_weights"]


def trapezoid_weights(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns the points and weights of the trapezoid rule on [0, 1].

    `alphas = linspace(0, 1, steps)`, weights `1 / (steps - 1)` with halved end weights, so
    that they sum to 1 and `sum(weights * f(alphas))` approximates `integral_0^1 f`.

    Args:
        steps: The number of points, `>= 2` (not validated here: `integrated_gradients` does).

    Returns:
        `(alphas, weights)`: two float64 arrays of shape `(steps,)`.

    Raises:
        ZeroDivisionError: If `steps` is 1.

    Example:
        >>> trapezoid_weights(3)
        (array([0. , 0.5, 1. ]), array([0.25, 0.5 , 0.25]))
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"`steps` must be an int >= 2 for the trapezoid rule, got {steps!r}.")
    alphas = np.linspace(0.0, 1.0, steps)
    weights = np.full(steps, 1.0 / (steps - 1))
    weights[[0, -1]] /= 2.0
    return alphas, weights


def _baselines(baseline, x: np.ndarray) -> np.ndarray:
    if baseline is None:
        return np.zeros_like(x)
    if callable(baseline):
        b = np.asarray(baseline(x), dtype=x.dtype)
    else:
        b = np.asarray(baseline, dtype=x.dtype)
    if b.shape == x.shape[1:]:
        b = np.broadcast_to(b, x.shape)
    if b.shape != x.shape:
        raise ValueError(
            f"`baseline` has shape {b.shape}; expected one sample {x.shape[1:]} or the batch "
            f"shape {x.shape}."
        )
    if not np.all(np.isfinite(b)):
        raise ValueError("`baseline` contains NaN or inf values.")
    return b


def integrated_gradients(
    model: keras.Model,
    losses,
    x: np.ndarray,
    baseline=None,
    steps: int = 50,
    batch_size: int | None = None,
    backprop_modifier=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw Integrated Gradients and the completeness target `f(x) - f(baseline)`.

    The building block of `visualize_integrated_gradients`, for any `(Loss, weight)` score:
    all `steps` path points of an input are evaluated in vectorized batches. Completeness:
    `attributions[i].sum() ~= delta[i]`, up to the quadrature error.

    Args:
        model: The model.
        losses: `(Loss, weight)` pairs defining the score `f`.
        x: A validated batch.
        baseline: `None` (zeros), an array (one sample or a batch) or a callable `x -> baseline`.
            Defaults to `None`.
        steps: Points of the trapezoid rule (>= 2). Defaults to `50`.
        batch_size: Maximum path points per gradient call. Defaults to `None`.
        backprop_modifier: See `vis.backprop_modifiers`. Defaults to `None`.

    Returns:
        `(attributions, delta)`: attributions shaped like `x`, and `f(x) - f(baseline)` per sample.

    Raises:
        ValueError: For `steps < 2`, a `baseline` of the wrong shape or with NaN/inf values,
            or the errors of `vis.visualization.engine.gradients`.

    Example:
        >>> from vis.losses import ActivationMaximization
        >>> loss = ActivationMaximization("predictions", 3)
        >>> attributions, delta = integrated_gradients(model, [(loss, 1.0)], x, steps=64)
        >>> attributions.shape == x.shape, delta.shape == (len(x),)
        (True, True)
    """
    steps = _check_positive_int(steps, "steps")
    if steps < 2:
        raise ValueError(f"`steps` must be >= 2 for the trapezoid rule, got {steps}.")
    base = _baselines(baseline, x)
    alphas, weights = trapezoid_weights(steps)
    shape = (steps,) + (1,) * (x.ndim - 1)
    a = alphas.reshape(shape).astype(x.dtype)
    per_call = batch_size if batch_size is not None else max(steps, 64)
    inputs_per_chunk = max(1, per_call // steps)
    out = np.empty(x.shape, dtype="float64")
    delta = np.empty(len(x), dtype="float64")
    for start in range(0, len(x), inputs_per_chunk):
        idx = np.arange(start, min(len(x), start + inputs_per_chunk))
        path = np.concatenate([base[i] + a * (x[i] - base[i]) for i in idx]).astype(x.dtype)
        chunk_losses = [(_repeat_loss(loss, idx, steps), w) for loss, w in losses]
        scores, grads = engine.gradients(
            model, chunk_losses, path, backprop_modifier=backprop_modifier, batch_size=per_call
        )
        grads = grads.reshape((len(idx), steps) + x.shape[1:]).astype("float64")
        # a broadcast sum rather than tensordot: BLAS threads left spinning after a matmul
        # would compete with TensorFlow's own threads for the next chunk's gradients
        avg = (grads * weights.reshape((1, steps) + (1,) * (x.ndim - 1))).sum(axis=1)
        out[idx] = (x[idx] - base[idx]) * avg
        scores = scores.reshape(len(idx), steps)
        delta[idx] = scores[:, -1] - scores[:, 0]
    return out.astype(x.dtype), delta


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

    Raises:
        ValueError: Bad `steps`, `baseline`, `batch_size`, or the errors of `visualize_saliency`.

    Example:
        >>> ig = visualize_integrated_gradients(model, -1, 3, x_test[:2], steps=64,
        ...                                     keepdims=True, normalize=False)
    """
    x, single = engine.prepare_input(model, seed_input)
    if batch_size is not None:
        batch_size = _check_positive_int(batch_size, "batch_size")
    loss = ActivationMaximization(layer_idx, filter_indices)
    raw, _ = integrated_gradients(model, [(loss, 1.0)], x, baseline, steps, batch_size,
                                  backprop_modifier)
    warn_if_zero(raw, "Integrated Gradients map")
    return finish(raw, single, grad_modifier, keepdims, normalize, model_channel_axis(model))
