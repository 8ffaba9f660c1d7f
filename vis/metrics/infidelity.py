"""Infidelity (Yeh et al. 2019): does the map predict how the score reacts to noise?

    INFD(phi, f, x) = E_I[ (I . phi(x) - (f(x) - f(x - I)))^2 ],   I ~ N(0, noise^2 Id),

with `f` the pre-softmax target score, estimated with `samples` seeded draws per input. Lower is
better; 0 for the gradient of a linear model (its first-order expansion is exact). No
normalization is applied (Yeh et al.'s code optionally rescales `phi` by the least-squares
optimal factor; here the map is taken as it is, so maps of a different scale than the score
differences are penalized). `I . phi` uses the perturbation actually applied, `x - (x - I)` in
the input's dtype. A CAM map `(N, *spatial)` is broadcast over the channels (each channel of a
pixel gets the pixel's attribution).

Paper: C.-K. Yeh, C.-Y. Hsieh, A. S. Suggala, D. I. Inouye, P. Ravikumar, "On the (In)fidelity
and Sensitivity of Explanations", NeurIPS 2019, https://arxiv.org/abs/1901.09392.
"""

from __future__ import annotations

import numpy as np

from vis.metrics import _common

__all__ = ["infidelity"]


def infidelity(model, inputs, attributions, targets=None, *, samples: int = 50,
               noise: float = 0.1, seed: int | None = 0, batch_size: int | None = None,
               **options) -> np.ndarray:
    """Infidelity (Yeh et al. 2019) of each input's map, `E[(I . phi - (f(x) - f(x - I)))^2]`.

    Args:
        model: The Keras model (never modified).
        inputs: A batch of inputs (or one input).
        attributions: Precomputed maps (shaped like `inputs`, or like their spatial axes), or a
            method computed with `vis.explain` and `**options`.
        targets: `None` (each input's predicted class), an int, or one int per input.
            Defaults to `None`.
        samples: Noise draws per input, an int >= 1. Defaults to `50`.
        noise: The standard deviation of `I` (input units), > 0. Defaults to `0.1`.
        seed: Seed of the noise. Defaults to `0`.
        batch_size: The most images per compiled call. Defaults to `None`.
        **options: The method's options (with `attributions` a method).

    Returns:
        `(N,)` float64, >= 0.

    Raises:
        ValueError: For bad `samples`, `noise` or `seed`, maps of the wrong shape or with
            NaN/inf values, bad inputs or targets.
        TypeError: For arguments of the wrong type, or options with precomputed maps.

    Example:
        >>> infidelity(model, x, "gradient", y, samples=20).mean()  # lower is better
    """
    samples = _common.check_int(samples, "samples")
    noise = _common.check_positive(noise, "noise")
    seed = _common.check_seed(seed)
    x, t, layout = _common.prepare(model, inputs, targets, batch_size)
    _common.check_work(samples, len(x), x[0].size, "samples", samples)
    maps = _common.maps_for(model, x, t, attributions, options, batch_size)
    if maps.shape == x.shape:
        phi = maps.astype("float64")
    elif maps.shape == (len(x),) + layout.spatial:
        phi = _common.expand(maps.astype("float64"), layout)
    else:
        raise ValueError(
            f"`attributions` has shape {maps.shape}; expected the inputs' shape {x.shape} or "
            f"their spatial shape {(len(x),) + layout.spatial}."
        )
    if not np.all(np.isfinite(phi)):
        raise ValueError("`attributions` contains NaN or inf values.")
    f = _common.score_function(model, "logit")
    rngs = _common.sample_rngs(seed, len(x))
    dots = np.empty((len(x), samples))

    def make(idx):
        out = []
        for i in idx:
            noisy = (x[i] - rngs[i].normal(0.0, noise, (samples,) + x.shape[1:])).astype(x.dtype)
            applied = x[i].astype("float64") - noisy.astype("float64")
            dots[i] = (applied * phi[i]).reshape(samples, -1).sum(axis=1)
            out.append(noisy)
        return np.concatenate(out)

    perturbed = _common.run_perturbed(f, make, t, samples, x[0].size, batch_size)
    drops = f(x, t, batch_size)[:, None] - perturbed
    return ((dots - drops) ** 2).mean(axis=1)
