"""SmoothGrad, SmoothGrad-squared and VarGrad (Smilkov et al. 2017, https://arxiv.org/abs/1706.03825;
Adebayo et al. 2018 for VarGrad), keras-vis style: a thin wrapper of `vis.methods.smoothgrad`.

The raw score gradient is averaged over `samples` noisy copies `x + N(0, sigma^2)` with
`sigma = noise * (max(x) - min(x))` per sample. Noisy copies are evaluated in large vectorized
batches through the compiled gradient function. One standard-normal draw of `samples` arrays comes
from `seed` and is scaled by each input's sigma, so an input's map is the same alone or in a batch,
at any position and for any `batch_size`.
"""

from __future__ import annotations

import keras
import numpy as np

from vis.inputs import pixel_inputs
from vis.losses import ActivationMaximization
from vis.methods._smooth import KINDS, gaussian_noise
from vis.methods.smoothgrad import smooth_gradients
from vis.utils import checks
from vis.visualization._keras_vis import prepare_seed
from vis.visualization._postprocess import finish_inputs

__all__ = ["visualize_smoothgrad", "smooth_gradients"]

_check_positive_int = checks.positive_int  # the name other modules imported


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
        One sample *or a batch of one* (`x[:1]`) gives one map without a batch axis,
        as in keras-vis.

    Raises:
        ValueError: Bad `samples`, `noise`, `kind`, `batch_size`, or the errors of
            `visualize_saliency`.

    Note:
        After changing the model's architecture in place (e.g. `layer.activation = ...`),
        vis rebuilds its copy of the model; `vis.release(model)` frees the copies.

    Example:
        >>> maps = visualize_smoothgrad(model, -1, 3, x_test[:4], samples=50, seed=0)
    """
    samples = checks.positive_int(samples, "samples")
    noise = checks.positive_float(noise, "noise")
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {list(KINDS)}, got {kind!r}.")
    seed = checks.seed(seed)
    if batch_size is not None:
        batch_size = checks.positive_int(batch_size, "batch_size")
    batch = prepare_seed(model, seed_input)
    checks.work(samples * len(batch), "samples", samples, "noisy copies of the inputs")
    # One standard-normal draw from `seed`, scaled by each input's sigma: an input's map does not
    # depend on the other inputs of the batch, nor on its position, nor on `batch_size`.
    noise_arrays = gaussian_noise(batch.value, samples, noise, seed, pixel_inputs(model))
    loss = ActivationMaximization(layer_idx, filter_indices)
    raw = smooth_gradients(model, [(loss, 1.0)], batch.value, noise_arrays, kind,
                           backprop_modifier, batch_size)
    return finish_inputs(model, raw, batch, grad_modifier, keepdims, normalize, "SmoothGrad map")
