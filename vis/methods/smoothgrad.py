"""SmoothGrad (Smilkov et al. 2017): the gradient averaged over noisy copies of the input.

Paper: "SmoothGrad: removing noise by adding noise", https://arxiv.org/abs/1706.03825.
`map = mean_s grad(x + eps_s)`, `eps_s ~ N(0, sigma^2)`, `sigma = noise * (max(x) - min(x))`. It is
the `gradient` method under the noise tunnel (`smooth=` of `vis.explain` wraps any method).
`smooth_gradients` is the core the keras-vis `visualize_smoothgrad` shares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from vis import engine
from vis.losses import ActivationMaximization, PerSample
from vis.methods._base import Method, get, register
from vis.methods._smooth import _per_call, noise_tunnel, smooth_maps

__all__ = ["raw", "smooth_gradients", "repeat_loss"]


def repeat_loss(loss, idx: np.ndarray, s: int):
    """The loss for `s` copies of each input in `idx` (per-sample targets repeated)."""
    if isinstance(loss, ActivationMaximization) and isinstance(loss.filter_indices, PerSample):
        return ActivationMaximization(
            loss.layer, PerSample(np.repeat(loss.filter_indices.indices[idx], s))
        )
    return loss


def smooth_gradients(model, losses: Sequence, x: np.ndarray,
                     noise_arrays: Callable[[int], np.ndarray], kind: str = "mean",
                     backprop_modifier=None, batch_size: int | None = None) -> np.ndarray:
    """Aggregates raw gradients over given noise arrays (the core of SmoothGrad).

    Sample `i`'s gradient is evaluated at `x[i] + noise_arrays(i)[s]` for every draw `s`, in
    vectorized batches streamed `batch_size` noisy inputs at a time, and aggregated over the
    draws. Any noise model can be plugged in.

    Args:
        model: The model.
        losses: `(Loss, weight)` pairs (targets are repeated per noise sample).
        x: A validated batch `(N, ...)`.
        noise_arrays: A callable `i -> (S, ...)` array giving sample `i`'s `S` noise draws
            (the same `S` for every sample).
        kind: `'mean'`, `'square'` or `'var'`. Defaults to `'mean'`.
        backprop_modifier: See `vis.backprop_modifiers`. Defaults to `None`.
        batch_size: Maximum number of noisy inputs per gradient call. Defaults to `None`
            (all samples of one input at once, at least 64, within about 64 MB).

    Returns:
        The aggregated raw gradients, shape of `x`.

    Raises:
        ValueError: An unknown `kind`, or the errors of `vis.engine.gradients` (e.g. a bad
            `batch_size` or NaN gradients).

    Example:
        >>> from vis.losses import ActivationMaximization
        >>> loss = ActivationMaximization("predictions", 3)
        >>> noise = np.random.default_rng(0).normal(0.0, 0.1, (16,) + x.shape[1:])
        >>> raw = smooth_gradients(model, [(loss, 1.0)], x, lambda i: noise.astype(x.dtype))
        >>> raw.shape == x.shape
        True
    """
    samples = getattr(noise_arrays, "samples", None)
    if samples is None:
        first = noise_arrays(0)
        samples = len(next(d for d in first if d is not None) if isinstance(first, list)
                      else first)
    per_call = _per_call(list(x) if isinstance(x, list) else [x], samples, batch_size)

    def fn(noisy: np.ndarray, owners: np.ndarray) -> np.ndarray:
        chunk_losses = [(repeat_loss(loss, owners, 1), w) for loss, w in losses]
        _, grads = engine.gradients(model, chunk_losses, noisy,
                                    backprop_modifier=backprop_modifier, batch_size=per_call)
        return grads

    return smooth_maps(fn, x, noise_arrays, kind, per_call)


def raw(model, inputs, targets, *, output=-1, samples: int = 50, noise: float = 0.15,
        seed: int | None = 0, kind: str = "mean", batch_size: int | None = None) -> np.ndarray:
    """SmoothGrad of each sample's target score, signed for `kind='mean'`.

    Args:
        model: A Keras model (never modified).
        inputs: A validated batch.
        targets: One class / unit index per sample.
        output: The output layer whose (pre-softmax) score is explained. Defaults to `-1`.
        samples: Noisy copies per input. Defaults to `50`.
        noise: Noise level as a fraction of each input's value range. Defaults to `0.15`.
        seed: Seed of the noise (the same seed gives the same map). Defaults to `0`.
        kind: `'mean'`, `'square'` (SmoothGrad-squared) or `'var'` (VarGrad). Defaults to
            `'mean'`.
        batch_size: Noisy inputs per gradient call. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`.

    Example:
        >>> maps = raw(model, x, y, samples=16)
    """
    return noise_tunnel(get("gradient"), model, inputs, targets, samples=samples, noise=noise,
                        seed=seed, kind=kind, batch_size=batch_size, output=output)


register(Method(
    "smoothgrad", raw, family="gradient", signed=True, token_reduction="max_abs", aliases=("smooth_grad",),
    description="Gradient averaged over noisy copies of the input (the gradient + smooth=).",
    paper="Smilkov et al. 2017, https://arxiv.org/abs/1706.03825",
))
