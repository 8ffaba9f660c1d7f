"""`smooth=`: a noise tunnel over any method (SmoothGrad, SmoothGrad-squared, VarGrad).

Smilkov et al. 2017 (https://arxiv.org/abs/1706.03825) for SmoothGrad and its square; Adebayo et
al. 2018 for VarGrad; Captum's `NoiseTunnel` wraps any attribution the same way. A method's map
is aggregated over `samples` noisy copies `x + N(0, sigma^2)`, `sigma = noise * (max(x) - min(x))`
per input. One standard-normal draw of `samples` arrays comes from `seed` and is scaled by each
input's sigma, so an input's map is the same alone or in a batch, at any position and for any
`batch_size`. Noisy copies are evaluated by the method in large batches, whole inputs at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vis.utils import checks

__all__ = ["smooth_maps", "noise_tunnel", "check_smooth", "KINDS"]

KINDS = ("mean", "square", "var")
_DEFAULTS = {"samples": 50, "noise": 0.15, "seed": 0, "kind": "mean"}


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
    out["samples"] = checks.positive_int(out["samples"], "smooth['samples']")
    out["noise"] = checks.positive_float(out["noise"], "smooth['noise']")
    seed = out["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise ValueError(f"`smooth['seed']` must be None or a non-negative int, got {seed!r}.")
    if out["kind"] not in KINDS:
        raise ValueError(f"`smooth['kind']` must be one of {list(KINDS)}, got {out['kind']!r}.")
    return out


def smooth_maps(fn: Callable, x, noise_arrays: Callable, kind: str = "mean",
                per_call: int | None = None):
    """Aggregates `fn`'s maps over noisy copies of each input (the core of every noise tunnel).

    Sample `i` is evaluated at `x[i] + noise_arrays(i)[s]` for every draw `s`; whole samples
    (all their draws) go to `fn` together, as many per call as `per_call` noisy samples allow.
    For a multi-input model `x` is a list and `noise_arrays(i)` a list with one noise array per
    input (`None` for inputs left unperturbed, e.g. token ids, which are repeated as they are).

    Args:
        fn: `fn(noisy, idx) -> maps`: the maps of `noisy` (the draws of samples `idx`, sample by
            sample), one per noisy sample (a list of arrays for a multi-input model; `None`
            for an input the method does not attribute stays `None`).
        x: A validated batch `(N, ...)`, or a list of batches.
        noise_arrays: `i -> (S, ...)` noise draws of sample `i` (the same `S` for all), or a
            list of such arrays / `None`s.
        kind: `'mean'`, `'square'` or `'var'`. Defaults to `'mean'`.
        per_call: The number of noisy samples per call of `fn`. Defaults to `None`
            (`max(S, 64)`).

    Returns:
        The aggregated maps `(N, ...)` in `x`'s dtype (a list for a list of maps).

    Raises:
        ValueError: For an unknown `kind`.
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {list(KINDS)}, got {kind!r}.")
    xs, as_list = (list(x), True) if isinstance(x, list) else ([x], False)
    n = len(xs[0])

    def draws(i: int) -> list:
        got = noise_arrays(i)
        return list(got) if as_list else [got]

    first = draws(0)
    s = len(next(d for d in first if d is not None))
    per_call = per_call if per_call is not None else max(s, 64)
    inputs_per_chunk = max(1, per_call // s)
    outs: list | None = None
    returned_list = False
    for start in range(0, n, inputs_per_chunk):
        idx = np.arange(start, min(n, start + inputs_per_chunk))
        noise = {int(i): (first if i == 0 else draws(int(i))) for i in idx}
        noisy = []
        for k, xk in enumerate(xs):
            if noise[int(idx[0])][k] is None:
                noisy.append(np.repeat(xk[idx], s, axis=0))
            else:
                values = np.concatenate([xk[i] + noise[int(i)][k] for i in idx])
                if xk.dtype.kind in "iu":  # pixel values: stay in the dtype's range
                    info = np.iinfo(xk.dtype)
                    values = np.clip(values, info.min, info.max)
                noisy.append(values.astype(xk.dtype))
        maps = fn(noisy if as_list else noisy[0], idx)
        returned_list = isinstance(maps, (list, tuple))
        maps = list(maps) if returned_list else [maps]
        if outs is None:  # None: an input the method does not attribute
            outs = [None if m is None else np.empty((n,) + np.shape(m)[1:], dtype="float64")
                    for m in maps]
        for out, m in zip(outs, maps):
            if out is None:
                continue
            m = np.asarray(m).reshape((len(idx), s) + np.shape(m)[1:]).astype("float64")
            if kind == "mean":
                out[idx] = m.mean(axis=1)
            elif kind == "square":
                out[idx] = np.square(m).mean(axis=1)
            else:
                out[idx] = m.var(axis=1)
    # maps come back in their input's float dtype (one map per input), else in the first's
    float_dtypes = [xk.dtype if xk.dtype.kind == "f" else np.dtype("float32") for xk in xs]
    if len(outs) != len(float_dtypes):
        float_dtypes = [float_dtypes[0]] * len(outs)
    results = [None if out is None else out.astype(dtype)
               for out, dtype in zip(outs, float_dtypes)]
    return results if returned_list else results[0]


def gaussian_noise(x, samples: int, noise: float, seed, pixel_inputs=()) -> Callable:
    """SmoothGrad's noise: one seeded standard-normal draw, scaled by each sample's range.

    Args:
        x: A batch, or a list of batches (one per input; integer inputs get no noise, except
            those in `pixel_inputs`).
        samples: Draws per sample.
        noise: The noise level, a fraction of each sample's value range.
        seed: The seed.
        pixel_inputs: Indices of integer inputs that hold pixel values (a uint8 image read
            through a cast or `Rescaling`, see `vis.inputs.pixel_inputs`): their noise is
            rounded to integers (and the noisy values clipped to the dtype's range). Defaults
            to `()`.

    Returns:
        `i -> (samples, ...)`: sample `i`'s draws, `sigma_i = noise * (max(x_i) - min(x_i))`
        (for a list: one array per input, `None` for integer inputs).
    """
    xs, as_list = (list(x), True) if isinstance(x, list) else ([x], False)
    rng = np.random.default_rng(seed)
    scaled = []
    for k, xk in enumerate(xs):
        pixels = xk.dtype.kind != "f" and k in pixel_inputs
        if xk.dtype.kind != "f" and not pixels:
            scaled.append(None)
            continue
        flat = xk.reshape(len(xk), -1).astype("float64")
        sigmas = noise * (flat.max(axis=1) - flat.min(axis=1))
        scaled.append((rng.standard_normal((samples,) + xk.shape[1:]), sigmas,
                       "float64" if pixels else xk.dtype, pixels))

    def noise_arrays(i: int):
        out = [None if sc is None else
               (np.rint(sc[0] * sc[1][i]) if sc[3] else sc[0] * sc[1][i]).astype(sc[2])
               for sc in scaled]
        return out if as_list else out[0]

    if not any(sc is not None for sc in scaled):
        raise ValueError("`smooth`: every input holds integers; there is nothing to add noise to.")
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
    from vis.inputs import pixel_inputs

    noise_arrays = gaussian_noise(x, settings["samples"], settings["noise"], settings["seed"],
                                  pixel_inputs(model))
    s = settings["samples"]

    def fn(noisy, idx: np.ndarray):
        return method(model, noisy, np.repeat(targets[idx], s), batch_size=per_call, **options)

    return smooth_maps(fn, x, noise_arrays, settings["kind"], per_call)
