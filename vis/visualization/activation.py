"""Activation maximization: synthesize an input that maximizes a class or a filter.

Erhan et al. 2009; Simonyan et al. 2014 (https://arxiv.org/abs/1312.6034); keras-vis's
`visualize_activation`. Projected gradient ascent (Adam) on
`score(x) - w_tv * TV(u) - w_lp * Lp(u)`, where `u = (x - low) / (high - low)` lives in [0, 1]
and `x` is clipped to `input_range` after every step (no re-standardization afterwards). The
score is the (spatially averaged) activation of `filter_indices` of the layer, on pre-softmax
logits for softmax layers. Written in `keras.ops` and the backend seam (`vis.backend`): the same
on TensorFlow, JAX and PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from vis import backend as _backend
from vis import engine
from vis.losses import ActivationMaximization
from vis.utils.model import model_channel_axis
from vis.visualization.smoothgrad import _check_positive_int

__all__ = ["visualize_activation", "total_variation", "lp_norm"]


def total_variation(u, beta: float = 2.0):
    """Per-sample total variation: `sum_axis mean(|diff(u, axis)|^beta)` over the spatial axes.

    The spatial axes of a channels-last batch `(N, ..., C)` are all but the first and the last;
    a rank-2 batch of vectors `(N, D)` uses differences along axis 1. Axes of length 1 are
    skipped. The default regularizer `'tv'` of `visualize_activation`: it favours smooth images.

    Args:
        u: A channels-last batch, rank >= 2.
        beta: Exponent of the absolute differences. Defaults to `2.0`.

    Returns:
        A tensor of shape `(N,)` (zeros when no axis has length >= 2).

    Example:
        >>> u = keras.ops.reshape(keras.ops.convert_to_tensor([0.0, 1.0, 0.0, 1.0]), (1, 2, 2, 1))
        >>> keras.ops.convert_to_numpy(total_variation(u))  # vertical steps 0, horizontal 1
        array([1.], dtype=float32)
    """
    ops = keras.ops
    u = ops.convert_to_tensor(u)
    axes = tuple(range(1, len(u.shape)))
    terms = []
    for axis in range(1, len(u.shape) - 1 if len(u.shape) > 2 else 2):
        if u.shape[axis] is not None and u.shape[axis] < 2:
            continue
        d = ops.diff(u, axis=axis)
        terms.append(ops.mean(ops.abs(d) ** beta, axis=axes))
    if not terms:
        return ops.zeros((ops.shape(u)[0],), u.dtype)
    return sum(terms[1:], terms[0])


def lp_norm(u, p: float = 6.0):
    """Per-sample mean of `|u - 0.5|^p`: keeps [0, 1]-scaled values away from the extremes.

    The default regularizer `'lp'` of `visualize_activation` (an L6 penalty).

    Args:
        u: A batch scaled to [0, 1], any rank >= 2.
        p: The exponent. Defaults to `6.0`.

    Returns:
        A tensor of shape `(N,)`.

    Example:
        >>> keras.ops.convert_to_numpy(lp_norm(keras.ops.convert_to_tensor([[0.0, 1.0]]), p=2.0))
        array([0.25], dtype=float32)
    """
    u = keras.ops.convert_to_tensor(u)
    return keras.ops.mean(keras.ops.abs(u - 0.5) ** p, axis=tuple(range(1, len(u.shape))))


_REGULARIZERS: dict[str, Callable] = {"tv": total_variation, "lp": lp_norm}
_DEFAULT_REGULARIZERS = (("tv", 0.3), ("lp", 0.3))


def _parse_regularizers(regularizers) -> list[tuple[Callable, float]]:
    if regularizers is None:
        regularizers = _DEFAULT_REGULARIZERS
    if isinstance(regularizers, dict):
        regularizers = list(regularizers.items())
    parsed = []
    for item in regularizers:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise TypeError(f"`regularizers` items must be (name or callable, weight), got {item!r}.")
        fn, weight = item
        if isinstance(fn, str):
            if fn not in _REGULARIZERS:
                raise ValueError(
                    f"Unknown regularizer {fn!r}. Valid names: {sorted(_REGULARIZERS)} or a callable."
                )
            fn = _REGULARIZERS[fn]
        elif not callable(fn):
            raise TypeError(f"Regularizer must be a name or a callable, got {fn!r}.")
        weight = float(weight)
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f"Regularizer weight must be finite and >= 0, got {item[1]!r}.")
        parsed.append((fn, weight))
    return parsed


def visualize_activation(
    model: keras.Model,
    layer_idx,
    filter_indices,
    seed_input=None,
    input_range: tuple[float, float] = (0, 255),
    max_iter: int = 200,
    lr: float = 0.05,
    regularizers=None,
    seed: int | None = None,
    backprop_modifier=None,
) -> np.ndarray:
    """Synthesizes an input that maximizes `filter_indices` of a layer.

    Args:
        model: A Keras model. Never modified.
        layer_idx: The layer (index, name, nested path or layer); softmax layers are maximized
            on their logits.
        filter_indices: An int or a list of ints (summed) — a class or a conv filter.
        seed_input: Starting input (one sample or a batch). Defaults to `None`: uniform noise in
            the middle of `input_range`, drawn from `seed`.
        input_range: `(low, high)` of valid input values; the result is clipped to it.
            Defaults to `(0, 255)`.
        max_iter: Adam steps. Defaults to `200`.
        lr: Adam learning rate in units of the input range. Defaults to `0.05`.
        regularizers: `(name or callable, weight)` pairs or a dict; names `'tv'` (total
            variation) and `'lp'` (L6 norm), callables map the [0, 1]-scaled batch to per-sample
            penalties. Defaults to `None`: `(('tv', 0.3), ('lp', 0.3))`.
        seed: Seed of the random start. Defaults to `None`.
        backprop_modifier: See `vis.backprop_modifiers`. Defaults to `None`.

    Returns:
        The optimized input(s) within `input_range`, shaped like `seed_input` (one sample when
        `seed_input` is `None`).

    Raises:
        ValueError: Bad `input_range`, `max_iter`, `lr`, regularizers, or the errors of
            `visualize_saliency`.

    Example:
        >>> img = visualize_activation(model, -1, 3, input_range=(0.0, 1.0), seed=0)
    """
    max_iter = _check_positive_int(max_iter, "max_iter")
    try:
        low, high = (float(v) for v in input_range)
    except (TypeError, ValueError):
        low, high = float("nan"), float("nan")
    if not (np.isfinite(low) and np.isfinite(high) and high > low):
        raise ValueError(f"`input_range` must be (low, high) with low < high, got {input_range!r}.")
    try:
        lr = float(lr)
    except (TypeError, ValueError):
        lr = float("nan")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"`lr` must be a positive number, got {lr!r}.")
    regs = _parse_regularizers(regularizers)
    shape = tuple(model.inputs[0].shape[1:])
    if seed_input is None:
        if any(d is None for d in shape):
            raise ValueError("The model input has unknown dimensions: pass `seed_input`.")
        rng = np.random.default_rng(seed)
        seed_input = low + (high - low) * rng.uniform(0.4, 0.6, shape)
    x, single = engine.prepare_input(model, seed_input)
    u = np.clip((x.astype("float64") - low) / (high - low), 0.0, 1.0)
    loss = ActivationMaximization(layer_idx, filter_indices)
    reg_grad = _regularizer_gradient(regs, model_channel_axis(model) == 1)
    m = np.zeros_like(u)
    v = np.zeros_like(u)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, max_iter + 1):
        xt = (low + (high - low) * u).astype(x.dtype)
        _, g = engine.gradients(model, [(loss, 1.0)], xt, backprop_modifier=backprop_modifier)
        grad_u = g.astype("float64") * (high - low)
        if regs:
            grad_u -= _backend.to_numpy(reg_grad(u.astype(x.dtype)))
        # Adam ascent step, then projection onto the valid range.
        m = b1 * m + (1 - b1) * grad_u
        v = b2 * v + (1 - b2) * grad_u**2
        step = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        u = np.clip(u + lr * step, 0.0, 1.0)
    out = (low + (high - low) * u).astype(x.dtype)
    return out[0] if single else out


def _regularizer_gradient(regs, channels_first: bool):
    """Compiled gradient of the weighted penalties; regularizers see channels-last images.

    The gradient comes from the backend seam (`tf.GradientTape`, `jax.grad` or
    `torch.autograd`), compiled once (`tf.function` / `jax.jit`).
    """
    B = _backend.get()

    def penalty(args, hooks):
        v = keras.ops.moveaxis(args[0], 1, -1) if channels_first else args[0]
        terms = [w * keras.ops.sum(fn(v)) for fn, w in regs]
        return sum(terms[1:], terms[0]), (), {}

    def grad(u):
        _, (g,), _ = B.value_and_grad(penalty, [u], [0], [])
        return g

    compiled = B.compile(grad)
    return lambda u: compiled(B.to_tensor(u))
