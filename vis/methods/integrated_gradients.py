"""Integrated Gradients (Sundararajan et al. 2017): the gradient integrated along a path.

Paper: "Axiomatic Attribution for Deep Networks", https://arxiv.org/abs/1703.01365.
`IG(x) = (x - x') * integral_0^1 grad f(x' + a (x - x')) da`, by the trapezoid rule over `steps`
points `a = linspace(0, 1, steps)` with weights `1/(steps-1)` and halved end weights (they sum to
1). Completeness: `sum(IG) ~= f(x) - f(x')`. All steps of an input are evaluated in one vectorized
batch (chunked by `batch_size`). `integrated_gradients` is the core shared with the keras-vis
`visualize_integrated_gradients`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vis import engine
from vis.methods._base import Method, register
from vis.methods._targets import target_score
from vis.methods.smoothgrad import repeat_loss

__all__ = ["raw", "integrated_gradients", "trapezoid_weights"]


def trapezoid_weights(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns the points and weights of the trapezoid rule on [0, 1].

    `alphas = linspace(0, 1, steps)`, weights `1 / (steps - 1)` with halved end weights, so
    that they sum to 1 and `sum(weights * f(alphas))` approximates `integral_0^1 f`.

    Args:
        steps: The number of points, an int `>= 2`.

    Returns:
        `(alphas, weights)`: two float64 arrays of shape `(steps,)`.

    Raises:
        ValueError: If `steps` is not an int >= 2.

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
    model,
    losses: Sequence,
    x: np.ndarray,
    baseline=None,
    steps: int = 50,
    batch_size: int | None = None,
    backprop_modifier=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw Integrated Gradients and the completeness target `f(x) - f(baseline)`.

    For any `(Loss, weight)` score: all `steps` path points of an input are evaluated in
    vectorized batches. Completeness: `attributions[i].sum() ~= delta[i]`, up to the
    quadrature error.

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
            or the errors of `vis.engine.gradients`.

    Example:
        >>> from vis.losses import ActivationMaximization
        >>> loss = ActivationMaximization("predictions", 3)
        >>> attributions, delta = integrated_gradients(model, [(loss, 1.0)], x, steps=64)
        >>> attributions.shape == x.shape, delta.shape == (len(x),)
        (True, True)
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"`steps` must be a positive int, got {steps!r}.")
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
        chunk_losses = [(repeat_loss(loss, idx, steps), w) for loss, w in losses]
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


def raw(model, inputs, targets, *, output=-1, baseline=None, steps: int = 50,
        batch_size: int | None = None) -> np.ndarray:
    """Integrated Gradients of each sample's target score from `baseline`, signed.

    Args:
        model: A Keras model (never modified).
        inputs: A validated batch.
        targets: One class / unit index per sample.
        output: The output layer whose (pre-softmax) score is explained. Defaults to `-1`.
        baseline: `None` (zeros), an array (one sample or a batch) or a callable
            `batch -> baselines`. Defaults to `None`.
        steps: Trapezoid points (>= 2). Defaults to `50`.
        batch_size: Path points per gradient call. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`; each sums to about `f(x) - f(baseline)`.

    Example:
        >>> maps = raw(model, x, y, steps=64)
    """
    maps, _ = integrated_gradients(model, target_score(output, targets), inputs, baseline, steps,
                                   batch_size)
    return maps


register(Method(
    "integrated_gradients", raw, family="gradient", signed=True, aliases=("ig",),
    description="Path integral of the gradient from a baseline; sums to f(x) - f(baseline).",
    paper="Sundararajan et al. 2017, https://arxiv.org/abs/1703.01365",
))
