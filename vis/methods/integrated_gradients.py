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
from vis import inputs as _inputs
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


def _baselines(baseline, x: np.ndarray, param: str = "baseline") -> np.ndarray:
    if baseline is None:
        return np.zeros_like(x)
    if isinstance(baseline, str):
        raise ValueError(
            f"`{param}` must be None (zeros), a number, an array or a callable, got the string "
            f"{baseline!r}."
        )
    try:
        b = np.asarray(baseline(x) if callable(baseline) else baseline, dtype=x.dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{param}` could not be read as numbers: {exc}") from None
    if b.ndim == 0:
        b = np.full(x.shape, b, dtype=x.dtype)
    if b.shape == x.shape[1:]:
        b = np.broadcast_to(b, x.shape)
    if b.shape != x.shape:
        raise ValueError(
            f"`{param}` has shape {b.shape}; expected one sample {x.shape[1:]} or the batch "
            f"shape {x.shape}."
        )
    if not np.all(np.isfinite(b)):
        raise ValueError(f"`{param}` contains NaN or inf values.")
    return b


def _space(model, xs: list[np.ndarray], baselines: list, baseline_token, batch_size):
    """Per input: `(values, baseline values, replaced layer path or None)`.

    Float inputs are interpolated themselves; integer inputs in the space of the layer they
    feed (the embedding), from the embedding of `baseline_token` (zeros by default).
    """
    routes = _inputs.embedding_routes(model)
    out = []
    for k, xk in enumerate(xs):
        if xk.dtype.kind == "f":
            out.append((xk, _baselines(baselines[k], xk, "baseline"), None))
            continue
        if k not in routes:
            raise ValueError(
                f"Input {k} holds integers and feeds no layer whose output Integrated "
                "Gradients could interpolate (an Embedding)."
            )
        if baselines[k] is not None:
            raise ValueError(
                "`baseline` of an integer (token) input is not used: Integrated Gradients "
                "interpolates its embeddings; give `baseline_token=` (e.g. the padding id) "
                "instead."
            )
        path = routes[k]
        values = np.asarray(engine.activations(model, xs if len(xs) > 1 else xs[0], path,
                                               batch_size=batch_size), dtype="float32")
        if baseline_token is None:
            base = np.zeros_like(values)
        else:
            tokens = [np.full_like(a, baseline_token) if a is xk else a for a in xs]
            base = np.asarray(engine.activations(model, tokens if len(xs) > 1 else tokens[0],
                                                 path, batch_size=batch_size), dtype="float32")
        out.append((values, base, path))
    return out


def integrated_gradients(
    model,
    losses: Sequence,
    x,
    baseline=None,
    steps: int = 50,
    batch_size: int | None = None,
    backprop_modifier=None,
    baseline_token: int | None = None,
):
    """Raw Integrated Gradients and the completeness target `f(x) - f(baseline)`.

    For any `(Loss, weight)` score: all `steps` path points of a sample are evaluated in
    vectorized batches. Every input of a multi-input model is interpolated together from its
    baseline; integer (token) inputs are interpolated in the space of the Embedding they feed.
    Completeness: the attributions of a sample, summed over all inputs, equal `delta[i]` up to
    the quadrature error.

    Args:
        model: The model.
        losses: `(Loss, weight)` pairs defining the score `f`.
        x: A validated batch (a list of batches for a multi-input model).
        baseline: `None` (zeros), a number, an array (one sample or a batch) or a callable
            `x -> baseline`; for a multi-input model a list or dict with one per input.
            Defaults to `None`.
        steps: Points of the trapezoid rule (>= 2). Defaults to `50`.
        batch_size: Maximum path points per gradient call. Defaults to `None`.
        backprop_modifier: See `vis.backprop_modifiers`. Defaults to `None`.
        baseline_token: For integer (token) inputs: the token whose embedding is the baseline
            (e.g. the padding id). Defaults to `None` (a zero embedding).

    Returns:
        `(attributions, delta)`: attributions shaped like `x` (token inputs: like their
        embeddings; a list for a list `x`), and `f(x) - f(baseline)` per sample.

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
    xs, as_list = (list(x), True) if isinstance(x, list) else ([x], False)
    n = len(xs[0])
    space = _space(model, xs, _inputs.per_input(model, baseline, "baseline") if as_list
                   else [baseline], baseline_token, batch_size)
    alphas, weights = trapezoid_weights(steps)
    per_call = batch_size if batch_size is not None else max(steps, 64)
    inputs_per_chunk = max(1, per_call // steps)
    outs = [np.empty(v.shape, dtype="float64") for v, _, _ in space]
    delta = np.empty(n, dtype="float64")
    for start in range(0, n, inputs_per_chunk):
        idx = np.arange(start, min(n, start + inputs_per_chunk))
        call_inputs, replace = [], {}
        for (values, base, path), xk in zip(space, xs):
            a = alphas.reshape((steps,) + (1,) * (values.ndim - 1)).astype(values.dtype)
            points = np.concatenate([base[i] + a * (values[i] - base[i]) for i in idx]
                                    ).astype(values.dtype)
            if path is None:
                call_inputs.append(points)
            else:
                call_inputs.append(np.repeat(xk[idx], steps, axis=0))
                replace[path] = points
        chunk_losses = [(repeat_loss(loss, idx, steps), w) for loss, w in losses]
        scores, grads = engine.gradients(
            model, chunk_losses, call_inputs if as_list else call_inputs[0],
            backprop_modifier=backprop_modifier, batch_size=per_call, replace=replace or None,
        )
        grads = grads if as_list else [grads]
        for out, g, (values, base, _) in zip(outs, grads, space):
            g = g.reshape((len(idx), steps) + values.shape[1:]).astype("float64")
            # a broadcast sum rather than tensordot: BLAS threads left spinning after a matmul
            # would compete with TensorFlow's own threads for the next chunk's gradients
            avg = (g * weights.reshape((1, steps) + (1,) * (values.ndim - 1))).sum(axis=1)
            out[idx] = (values[idx] - base[idx]) * avg
        scores = scores.reshape(len(idx), steps)
        delta[idx] = scores[:, -1] - scores[:, 0]
    results = [out.astype(v.dtype) for out, (v, _, _) in zip(outs, space)]
    return (results if as_list else results[0]), delta


def raw(model, inputs, targets, *, output=-1, baseline=None, steps: int = 50,
        baseline_token: int | None = None, batch_size: int | None = None):
    """Integrated Gradients of each sample's target score from `baseline`, signed.

    Args:
        model: A Keras model (never modified).
        inputs: A validated batch.
        targets: One class / unit index per sample.
        output: The output layer whose (pre-softmax) score is explained. Defaults to `-1`.
        baseline: `None` (zeros), a number, an array (one sample or a batch) or a callable
            `batch -> baselines`; one per input (list or dict) for a multi-input model.
            Defaults to `None`.
        steps: Trapezoid points (>= 2). Defaults to `50`.
        baseline_token: For token inputs: the token whose embedding is the baseline (e.g.
            the padding id). Defaults to `None` (a zero embedding).
        batch_size: Path points per gradient call. Defaults to `None`.

    Returns:
        Maps shaped like `inputs` (token inputs: like their embeddings); all of a sample's
        maps sum to about `f(x) - f(baseline)`.

    Example:
        >>> maps = raw(model, x, y, steps=64)
    """
    maps, _ = integrated_gradients(model, target_score(output, targets), inputs, baseline, steps,
                                   batch_size, baseline_token=baseline_token)
    return maps


register(Method(
    "integrated_gradients", raw, family="gradient", signed=True, aliases=("ig",),
    description="Path integral of the gradient from a baseline; sums to f(x) - f(baseline).",
    paper="Sundararajan et al. 2017, https://arxiv.org/abs/1703.01365",
))
