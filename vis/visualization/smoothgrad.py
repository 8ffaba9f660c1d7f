"""SmoothGrad, SmoothGrad-squared and VarGrad (Smilkov et al. 2017, https://arxiv.org/abs/1706.03825;
Adebayo et al. 2018 for VarGrad).

The raw score gradient is averaged over `samples` noisy copies `x + N(0, sigma^2)` with
`sigma = noise * (max(x) - min(x))` per sample. Noisy copies are evaluated in large vectorized
batches through the compiled gradient function. One standard-normal draw of `samples` arrays comes
from `seed` and is scaled by each input's sigma, so an input's map is the same alone or in a batch,
at any position and for any `batch_size`.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from vis.losses import ActivationMaximization, PerSample
from vis.utils.model import model_channel_axis
from vis.visualization import engine
from vis.visualization._postprocess import finish, warn_if_zero

__all__ = ["visualize_smoothgrad", "smooth_gradients"]

_KINDS = ("mean", "square", "var")


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
    return int(value)


def _check_noise(noise) -> float:
    try:
        value = float(noise)
    except (TypeError, ValueError):
        raise ValueError(f"`noise` must be a finite number > 0, got {noise!r}.") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"`noise` must be a finite number > 0, got {noise!r}.")
    return value


def smooth_gradients(
    model: keras.Model,
    losses,
    x: np.ndarray,
    noise_arrays,
    kind: str = "mean",
    backprop_modifier=None,
    batch_size: int | None = None,
) -> np.ndarray:
    """Aggregates raw gradients over given noise arrays (the core of SmoothGrad).

    Sample `i`'s gradient is evaluated at `x[i] + noise_arrays(i)[s]` for every draw `s`, in
    vectorized batches, and aggregated over the draws. Any noise model can be plugged in.

    Args:
        model: The model.
        losses: `(Loss, weight)` pairs (targets are repeated per noise sample).
        x: A validated batch `(N, ...)`.
        noise_arrays: A callable `i -> (S, ...)` array giving sample `i`'s `S` noise draws
            (the same `S` for every sample).
        kind: `'mean'`, `'square'` or `'var'` (any other value computes the variance). Defaults
            to `'mean'`.
        backprop_modifier: See `vis.backprop_modifiers`. Defaults to `None`.
        batch_size: Maximum number of noisy inputs per gradient call. Defaults to `None`
            (all samples of one input at once, at least 64).

    Returns:
        The aggregated raw gradients, shape of `x`.

    Raises:
        ValueError: The errors of `vis.visualization.engine.gradients` (e.g. a bad
            `batch_size` or NaN gradients).

    Example:
        >>> from vis.losses import ActivationMaximization
        >>> loss = ActivationMaximization("predictions", 3)
        >>> noise = np.random.default_rng(0).normal(0.0, 0.1, (16,) + x.shape[1:])
        >>> raw = smooth_gradients(model, [(loss, 1.0)], x, lambda i: noise.astype(x.dtype))
        >>> raw.shape == x.shape
        True
    """
    if kind not in _KINDS:
        raise ValueError(f"`kind` must be one of {list(_KINDS)}, got {kind!r}.")
    n = len(x)
    first = noise_arrays(0)
    s = len(first)
    per_call = batch_size if batch_size is not None else max(s, 64)
    out = np.empty(x.shape, dtype="float64")
    # Process whole inputs (all S draws each) per chunk; split inside an input if S > per_call.
    inputs_per_chunk = max(1, per_call // s)
    for start in range(0, n, inputs_per_chunk):
        idx = np.arange(start, min(n, start + inputs_per_chunk))
        noisy = np.concatenate([x[i] + (first if i == 0 else noise_arrays(i)) for i in idx])
        chunk_losses = [(_repeat_loss(loss, idx, s), w) for loss, w in losses]
        _, grads = engine.gradients(
            model, chunk_losses, noisy.astype(x.dtype), backprop_modifier=backprop_modifier,
            batch_size=per_call,
        )
        grads = grads.reshape((len(idx), s) + x.shape[1:]).astype("float64")
        if kind == "mean":
            out[idx] = grads.mean(axis=1)
        elif kind == "square":
            out[idx] = np.square(grads).mean(axis=1)
        else:
            out[idx] = grads.var(axis=1)
    return out.astype(x.dtype)


def _repeat_loss(loss, idx: np.ndarray, s: int):
    """The loss for `S` noisy copies of each input in `idx` (per-sample targets repeated)."""
    if isinstance(loss, ActivationMaximization) and isinstance(loss.filter_indices, PerSample):
        return ActivationMaximization(
            loss.layer, PerSample(np.repeat(loss.filter_indices.indices[idx], s))
        )
    return loss


def visualize_smoothgrad(
    model: keras.Model,
    layer_idx,
    filter_indices,
    seed_input,
    samples: int = 50,
    noise: float = 0.15,
    kind: str = "mean",
    seed: int | None = None,
    batch_size: int | None = None,
    backprop_modifier=None,
    grad_modifier="absolute",
    keepdims: bool = False,
    normalize: bool = True,
) -> np.ndarray:
    """SmoothGrad: the score gradient averaged over noisy copies of the input.

    `map = mean_s grad(x + eps_s)`, `eps_s ~ N(0, sigma^2)`, `sigma = noise * (max(x) - min(x))`
    per sample. `kind='square'` averages squared gradients (SmoothGrad-SQ), `kind='var'` takes
    their variance (VarGrad). The grad modifier applies to the aggregated gradient.

    Args:
        model: A Keras model. Never modified.
        layer_idx: The layer to explain (index, name, nested path or layer).
        filter_indices: An int, a list of ints (summed), or `vis.losses.per_sample(y)`.
        seed_input: One sample or a batch.
        samples: Noisy copies per input. Defaults to `50`.
        noise: Noise level (> 0) as a fraction of each input's value range. Defaults to `0.15`.
        kind: `'mean'`, `'square'` or `'var'`. Defaults to `'mean'`.
        seed: Seed of the noise; the same seed gives the same map. Defaults to `None` (random).
        batch_size: Maximum noisy inputs per gradient call (memory cap; does not change the
            result). Defaults to `None`.
        backprop_modifier: See `vis.backprop_modifiers`. Defaults to `None`.
        grad_modifier: See `vis.grad_modifiers`. Defaults to `'absolute'`.
        keepdims: Keep the channel axis. Defaults to `False`.
        normalize: Min-max scale each map to [0, 1]. Defaults to `True`.

    Returns:
        The maps, with the leading structure of `seed_input`.

    Raises:
        ValueError: Bad `samples`, `noise`, `kind`, `batch_size`, or the errors of
            `visualize_saliency`.

    Example:
        >>> maps = visualize_smoothgrad(model, -1, 3, x_test[:4], samples=50, seed=0)
    """
    samples = _check_positive_int(samples, "samples")
    noise = _check_noise(noise)
    if kind not in _KINDS:
        raise ValueError(f"`kind` must be one of {list(_KINDS)}, got {kind!r}.")
    if batch_size is not None:
        batch_size = _check_positive_int(batch_size, "batch_size")
    x, single = engine.prepare_input(model, seed_input)
    flat = x.reshape(len(x), -1)
    sigmas = noise * (flat.max(axis=1) - flat.min(axis=1))
    # One standard-normal draw from `seed`, scaled by each input's sigma: an input's map does not
    # depend on the other inputs of the batch, nor on its position, nor on `batch_size`.
    standard = np.random.default_rng(seed).standard_normal((samples,) + x.shape[1:])

    def noise_arrays(i: int) -> np.ndarray:
        return (standard * sigmas[i]).astype(x.dtype)

    loss = ActivationMaximization(layer_idx, filter_indices)
    raw = smooth_gradients(model, [(loss, 1.0)], x, noise_arrays, kind, backprop_modifier,
                           batch_size)
    warn_if_zero(raw, "SmoothGrad map")
    return finish(raw, single, grad_modifier, keepdims, normalize, model_channel_axis(model))
