"""Robustness: does the explanation stay put when the input barely moves?

Max- and avg-sensitivity (Yeh et al. 2019, "On the (In)fidelity and Sensitivity of
Explanations", NeurIPS 2019, https://arxiv.org/abs/1901.09392): for `samples` perturbations
`u ~ U[-r, r]^d` of each input (seeded), recompute the map with the method and measure

    sens(x, u) = ||phi(x + u) - phi(x)||_2 / ||phi(x)||_2,

then take the max (`max_sensitivity`) or the mean (`avg_sensitivity`) over the samples. Lower is
better. The norm is the Frobenius norm of the whole map (all its axes); the radius is absolute,
in input units (inputs in [0, 1]: `radius=0.02` is 2 % of the range). The perturbed inputs keep
the targets of the unperturbed ones. All perturbed copies of a chunk of inputs are explained in
one `vis.explain` call. An input whose map is all zero gets 0 if its perturbed maps are all zero
too, else `inf`.
"""

from __future__ import annotations

import numpy as np

from vis.metrics import _common

__all__ = ["max_sensitivity", "avg_sensitivity", "sensitivities"]


def sensitivities(model, inputs, targets, method, *, radius: float = 0.02, samples: int = 10,
                  seed: int | None = 0, batch_size: int | None = None,
                  **options) -> np.ndarray:
    """Every sample's relative change of the map, `(N, samples)` (see the module docstring).

    Args:
        model: The Keras model (never modified).
        inputs: A batch of inputs (or one input).
        targets: `None` (each input's predicted class), an int, or one int per input.
        method: A method name, `vis.methods.Method` or callable (maps are recomputed).
        radius: The half-width `r` of the uniform noise, > 0. Defaults to `0.02`.
        samples: Perturbations per input, an int >= 1. Defaults to `10`.
        seed: Seed of the noise. Defaults to `0`.
        batch_size: Passed to `vis.explain`. Defaults to `None`.
        **options: The method's options.

    Returns:
        `(N, samples)` float64 ratios (`inf` for an all-zero map that moves).

    Raises:
        ValueError: For a bad `radius`, `samples` or `seed`, and `vis.explain`'s errors.
        TypeError: If `method` is an array (robustness needs a method), or for bad options.

    Example:
        >>> s = sensitivities(model, x, y, "gradient", samples=5)
        >>> s.shape
        (8, 5)
    """
    radius = _common.check_positive(radius, "radius")
    samples = _common.check_int(samples, "samples")
    seed = _common.check_seed(seed)
    if not _common.is_method(method):
        raise TypeError(
            f"`method` must be a method name, a vis.methods.Method or a callable (robustness "
            f"recomputes the maps of perturbed inputs), got {type(method).__name__}."
        )
    x, t, _ = _common.prepare(model, inputs, targets, batch_size)
    _common.check_work(samples, len(x), x[0].size, "samples", samples)
    phi = _common.maps_for(model, x, t, method, options, batch_size)
    phi = phi.reshape(len(x), -1).astype("float64")
    norms = np.linalg.norm(phi, axis=1)
    rngs = _common.sample_rngs(seed, len(x))
    per_chunk = max(1, _common.MAX_CHUNK_VALUES // (samples * x[0].size))
    out = np.empty((len(x), samples))
    for start in range(0, len(x), per_chunk):
        idx = np.arange(start, min(len(x), start + per_chunk))
        noisy = np.concatenate([
            x[i] + rngs[i].uniform(-radius, radius, (samples,) + x.shape[1:]) for i in idx
        ]).astype(x.dtype)
        maps = _common.maps_for(model, noisy, np.repeat(t[idx], samples), method, options,
                                batch_size, quiet=True)
        maps = maps.reshape(len(idx), samples, -1).astype("float64")
        diff = np.linalg.norm(maps - phi[idx][:, None, :], axis=2)
        den = norms[idx][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[idx] = np.where(den > 0, diff / np.where(den > 0, den, 1.0),
                                np.where(diff > 0, np.inf, 0.0))
    return out


def max_sensitivity(model, inputs, targets, method, *, radius: float = 0.02, samples: int = 10,
                    seed: int | None = 0, batch_size: int | None = None,
                    **options) -> np.ndarray:
    """Max-sensitivity (Yeh et al. 2019): the largest relative change of the map, per input.

    `max_u ||phi(x + u) - phi(x)||_2 / ||phi(x)||_2` over `samples` draws `u ~ U[-r, r]^d`.
    Lower is better. For a linear model the gradient gives 0, and gradient x input at most
    `r ||w|| / ||w * x||`.

    Paper: C.-K. Yeh, C.-Y. Hsieh, A. S. Suggala, D. I. Inouye, P. Ravikumar, "On the
    (In)fidelity and Sensitivity of Explanations", NeurIPS 2019,
    https://arxiv.org/abs/1901.09392.

    Args:
        model: The Keras model (never modified).
        inputs: A batch of inputs (or one input).
        targets: `None` (each input's predicted class), an int, or one int per input.
        method: A method name, `vis.methods.Method` or callable.
        radius: The half-width `r` of the uniform noise (input units), > 0. Defaults to `0.02`.
        samples: Perturbations per input. Defaults to `10`.
        seed: Seed of the noise. Defaults to `0`.
        batch_size: Passed to `vis.explain`. Defaults to `None`.
        **options: The method's options (e.g. `steps=` for Integrated Gradients).

    Returns:
        `(N,)` float64.

    Raises:
        ValueError: As `sensitivities`.
        TypeError: As `sensitivities`.

    Example:
        >>> max_sensitivity(model, x, y, "gradient", radius=0.05, samples=5).mean()
    """
    return sensitivities(model, inputs, targets, method, radius=radius, samples=samples,
                         seed=seed, batch_size=batch_size, **options).max(axis=1)


def avg_sensitivity(model, inputs, targets, method, *, radius: float = 0.02, samples: int = 10,
                    seed: int | None = 0, batch_size: int | None = None,
                    **options) -> np.ndarray:
    """Avg-sensitivity (Yeh et al. 2019): the mean relative change of the map, per input.

    As `max_sensitivity`, with the mean over the samples instead of the max. Lower is better.

    Paper: Yeh et al., NeurIPS 2019, https://arxiv.org/abs/1901.09392.

    Args:
        model: The Keras model (never modified).
        inputs: A batch of inputs (or one input).
        targets: `None` (each input's predicted class), an int, or one int per input.
        method: A method name, `vis.methods.Method` or callable.
        radius: The half-width `r` of the uniform noise, > 0. Defaults to `0.02`.
        samples: Perturbations per input. Defaults to `10`.
        seed: Seed of the noise. Defaults to `0`.
        batch_size: Passed to `vis.explain`. Defaults to `None`.
        **options: The method's options.

    Returns:
        `(N,)` float64.

    Raises:
        ValueError: As `sensitivities`.
        TypeError: As `sensitivities`.

    Example:
        >>> avg_sensitivity(model, x, y, "smoothgrad", samples=5, seed=1).mean()
    """
    return sensitivities(model, inputs, targets, method, radius=radius, samples=samples,
                         seed=seed, batch_size=batch_size, **options).mean(axis=1)
