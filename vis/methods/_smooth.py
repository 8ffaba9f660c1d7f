"""`smooth=`: a noise tunnel over any method (SmoothGrad, SmoothGrad-squared, VarGrad).

Smilkov et al. 2017 (https://arxiv.org/abs/1706.03825) for SmoothGrad and its square; Adebayo et
al. 2018 for VarGrad; Captum's `NoiseTunnel` wraps any attribution the same way. A method's map
is aggregated over `samples` noisy copies `x + N(0, sigma^2)`, `sigma = noise * (max(x) - min(x))`
per input. One standard-normal draw of `samples` arrays comes from `seed` and is scaled by each
input's sigma, so an input's map is the same alone or in a batch, at any position and for any
`batch_size`. Noisy copies are evaluated by the method in large batches, whole inputs at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["smooth_maps", "noise_tunnel", "check_smooth", "KINDS"]

KINDS = ("mean", "square", "var")
_DEFAULTS = {"samples": 50, "noise": 0.15, "seed": 0, "kind": "mean"}


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
    return int(value)


def _noise(value, name: str = "noise") -> float:
    if isinstance(value, (bool, str)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"`{name}` must be a finite number > 0, got {value!r}.")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0, got {value!r}.")
    return value


def check_smooth(smooth) -> dict | None:
    """Validates a `smooth=` argument into `{"samples", "noise", "seed", "kind"}` (or `None`).

    Args:
        smooth: `None`/`False` (no smoothing), `True` (the defaults: 50 samples, noise 0.15,
            seed 0, kind 'mean'), or a dict overriding some of them.

    Returns:
        The complete settings, or `None`.

    Raises:
        ValueError: Unknown keys or invalid values (the message names them).
        TypeError: Another type.

    Example:
        >>> check_smooth({"samples": 8})
        {'samples': 8, 'noise': 0.15, 'seed': 0, 'kind': 'mean'}
    """
    if smooth is None or smooth is False:
        return None
    if smooth is True:
        return dict(_DEFAULTS)
    if not isinstance(smooth, dict):
        raise TypeError(
            f"`smooth` must be None, True or a dict such as {{'samples': 50, 'noise': 0.15, "
            f"'seed': 0, 'kind': 'mean'}}, got {type(smooth).__name__}: {smooth!r}."
        )
    unknown = sorted(set(smooth) - set(_DEFAULTS))
    if unknown:
        raise ValueError(f"`smooth` has unknown keys {unknown}; valid keys: {list(_DEFAULTS)}.")
    out = {**_DEFAULTS, **smooth}
    out["samples"] = _positive_int(out["samples"], "smooth['samples']")
    out["noise"] = _noise(out["noise"], "smooth['noise']")
    seed = out["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise ValueError(f"`smooth['seed']` must be None or a non-negative int, got {seed!r}.")
    if out["kind"] not in KINDS:
        raise ValueError(f"`smooth['kind']` must be one of {list(KINDS)}, got {out['kind']!r}.")
    return out


def smooth_maps(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], x: np.ndarray,
                noise_arrays: Callable[[int], np.ndarray], kind: str = "mean",
                per_call: int | None = None) -> np.ndarray:
    """Aggregates `fn`'s maps over noisy copies of each input (the core of every noise tunnel).

    Input `i` is evaluated at `x[i] + noise_arrays(i)[s]` for every draw `s`; whole inputs (all
    their draws) go to `fn` together, as many per call as `per_call` noisy inputs allow.

    Args:
        fn: `fn(noisy, idx) -> maps`: the maps of `noisy` (the draws of inputs `idx`, input by
            input), one per noisy input.
        x: A validated batch `(N, ...)`.
        noise_arrays: `i -> (S, ...)` noise draws of input `i` (the same `S` for every input).
        kind: `'mean'`, `'square'` or `'var'`. Defaults to `'mean'`.
        per_call: The number of noisy inputs per call of `fn`. Defaults to `None` (`max(S, 64)`).

    Returns:
        The aggregated maps `(N, ...)`, in `x`'s dtype.

    Raises:
        ValueError: For an unknown `kind`.
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {list(KINDS)}, got {kind!r}.")
    n = len(x)
    first = noise_arrays(0)
    s = len(first)
    per_call = per_call if per_call is not None else max(s, 64)
    inputs_per_chunk = max(1, per_call // s)
    out = None
    for start in range(0, n, inputs_per_chunk):
        idx = np.arange(start, min(n, start + inputs_per_chunk))
        noisy = np.concatenate([x[i] + (first if i == 0 else noise_arrays(i)) for i in idx])
        maps = np.asarray(fn(noisy.astype(x.dtype), idx))
        maps = maps.reshape((len(idx), s) + maps.shape[1:]).astype("float64")
        if out is None:
            out = np.empty((n,) + maps.shape[2:], dtype="float64")
        if kind == "mean":
            out[idx] = maps.mean(axis=1)
        elif kind == "square":
            out[idx] = np.square(maps).mean(axis=1)
        else:
            out[idx] = maps.var(axis=1)
    return out.astype(x.dtype)


def gaussian_noise(x: np.ndarray, samples: int, noise: float, seed) -> Callable[[int], np.ndarray]:
    """SmoothGrad's noise: one seeded standard-normal draw, scaled by each input's range.

    Returns:
        `i -> (samples, ...)`: input `i`'s draws, `sigma_i = noise * (max(x_i) - min(x_i))`.
    """
    flat = x.reshape(len(x), -1)
    sigmas = noise * (flat.max(axis=1) - flat.min(axis=1))
    standard = np.random.default_rng(seed).standard_normal((samples,) + x.shape[1:])

    def noise_arrays(i: int) -> np.ndarray:
        return (standard * sigmas[i]).astype(x.dtype)

    return noise_arrays


def noise_tunnel(method, model, x: np.ndarray, targets: np.ndarray, *, samples: int = 50,
                 noise: float = 0.15, seed: int | None = 0, kind: str = "mean",
                 batch_size: int | None = None, **options) -> np.ndarray:
    """Any method's maps aggregated over Gaussian noisy copies of the inputs.

    Args:
        method: A `vis.methods.Method` (or anything `vis.methods.get` accepts).
        model: The user's model.
        x: A validated batch.
        targets: One int per sample.
        samples: Noisy copies per input. Defaults to `50`.
        noise: Noise level as a fraction of each input's value range. Defaults to `0.15`.
        seed: Seed of the noise. Defaults to `0`.
        kind: `'mean'` (SmoothGrad), `'square'` (SmoothGrad-squared) or `'var'` (VarGrad).
            Defaults to `'mean'`.
        batch_size: Noisy inputs per call of the method. Defaults to `None`.
        **options: The method's options.

    Returns:
        The aggregated maps.

    Example:
        >>> from vis import methods
        >>> maps = noise_tunnel(methods.get("guided_backprop"), model, x, y, samples=16)
    """
    from vis.methods._base import get

    method = get(method)
    settings = check_smooth({"samples": samples, "noise": noise, "seed": seed, "kind": kind})
    per_call = batch_size if batch_size is not None else max(settings["samples"], 64)
    noise_arrays = gaussian_noise(x, settings["samples"], settings["noise"], settings["seed"])
    s = settings["samples"]

    def fn(noisy: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return method(model, noisy, np.repeat(targets[idx], s), batch_size=per_call, **options)

    return smooth_maps(fn, x, noise_arrays, settings["kind"], per_call)
