"""Integrated Gradients (Sundararajan et al. 2017): the gradient integrated along a path.

Paper: "Axiomatic Attribution for Deep Networks", https://arxiv.org/abs/1703.01365.
`IG(x) = (x - x') * integral_0^1 grad f(x' + a (x - x')) da`, by the trapezoid rule over `steps`
points `a = linspace(0, 1, steps)` with weights `1/(steps-1)` and halved end weights (they sum to
1). Completeness: `sum(IG) ~= f(x) - f(x')`. The path points are streamed: built, evaluated and
summed `batch_size` at a time (by default all steps of an input together when they fit in about
64 MB), so memory does not grow with `steps`. `integrated_gradients` is the core shared with the
keras-vis `visualize_integrated_gradients`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vis import engine
from vis import inputs as _inputs
from vis.methods._base import Method, register
from vis.methods._chunks import copies_per_call, pieces
from vis.methods._targets import target_score
from vis.methods.smoothgrad import repeat_loss
from vis.utils import checks

__all__ = ["raw", "integrated_gradients", "trapezoid_weights"]

# Path points per call by default: about this many bytes of them (at least 64 when they fit).


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
    """`None` (zeros), a number, an array or a callable, as baselines shaped like `x`."""
    return checks.baseline(baseline, x, param, none="zeros")


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
        ValueError: For `steps < 2`, more than `vis.utils.checks.MAX_COPIES` path points, a
            `baseline` of the wrong shape or with NaN/inf values (a callable's too, and its
            errors, naming `baseline`), or the errors of `vis.engine.gradients`.

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
    batch_size = checks.batch_size(batch_size)
    xs, as_list = (list(x), True) if isinstance(x, list) else ([x], False)
    n = len(xs[0])
    checks.work(int(steps) * n, "steps", steps, "path points")
    space = _space(model, xs, _inputs.per_input(model, baseline, "baseline") if as_list
                   else [baseline], baseline_token, batch_size)
    alphas, weights = trapezoid_weights(steps)
    per_call = batch_size if batch_size is not None else copies_per_call([v for v, _, _ in space], steps)
    outs = [np.zeros(v.shape, dtype="float64") for v, _, _ in space]
    delta = np.zeros(n, dtype="float64")
    for chunk in pieces([steps] * n, per_call):
        owners = np.concatenate([np.full(b - a, i) for i, a, b in chunk])
        call_inputs, replace = [], {}
        for (values, base, path), xk in zip(space, xs):
            parts = []
            for i, a, b in chunk:
                al = alphas[a:b].reshape((b - a,) + (1,) * (values.ndim - 1)).astype(values.dtype)
                parts.append(base[i] + al * (values[i] - base[i]))
            points = (parts[0] if len(parts) == 1 else np.concatenate(parts)).astype(values.dtype)
            if path is None:
                call_inputs.append(points)
            else:
                call_inputs.append(xk[owners])
                replace[path] = points
        chunk_losses = [(repeat_loss(loss, owners, 1), w) for loss, w in losses]
        scores, grads = engine.gradients(
            model, chunk_losses, call_inputs if as_list else call_inputs[0],
            backprop_modifier=backprop_modifier, batch_size=per_call, replace=replace or None,
        )
        grads = grads if as_list else [grads]
        pos = 0
        for i, a, b in chunk:
            w = weights[a:b]
            for out, g, (values, _, _) in zip(outs, grads, space):
                gi = g[pos:pos + b - a].astype("float64")
                # a broadcast sum rather than tensordot: BLAS threads left spinning after a
                # matmul would compete with TensorFlow's own threads for the next gradients
                out[i] += (gi * w.reshape((b - a,) + (1,) * (values.ndim - 1))).sum(axis=0)
            if a == 0:
                delta[i] -= scores[pos]
            if b == steps:
                delta[i] += scores[pos + b - a - 1]
            pos += b - a
    for out, (values, base, _) in zip(outs, space):
        out *= values - base
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
