"""`smooth=`: a noise tunnel over any method (SmoothGrad, SmoothGrad-squared, VarGrad).

Smilkov et al. 2017 (https://arxiv.org/abs/1706.03825) for SmoothGrad and its square; Adebayo et
al. 2018 for VarGrad; Captum's `NoiseTunnel` wraps any attribution the same way. A method's map
is aggregated over `samples` noisy copies `x + N(0, sigma^2)`, `sigma = noise * (max(x) - min(x))`
per input. One standard-normal draw of `samples` arrays comes from `seed` and is scaled by each
input's sigma, so an input's map is the same alone or in a batch, at any position and for any
`batch_size`. Noisy copies are streamed: drawn, evaluated by the method and aggregated
`batch_size` at a time (by default as many as fit in about 64 MB, whole inputs at a time when
they fit), so memory does not grow with `samples`. A request for more than
`vis.utils.checks.MAX_COPIES` noisy copies in one call is refused up front.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vis.methods._chunks import copies_per_call, pieces
from vis.utils import checks

__all__ = ["smooth_maps", "noise_tunnel", "check_smooth", "gaussian_noise", "GaussianNoise",
           "KINDS"]

KINDS = ("mean", "square", "var")
_DEFAULTS = {"samples": 50, "noise": 0.15, "seed": 0, "kind": "mean"}
# A standard-normal draw up to this size is kept (shared by every input); a larger one is
# regenerated from its seed for each input, a chunk at a time.
_CACHED_DRAW_BYTES = 64 * 2**20


def check_smooth(smooth, param: str = "smooth") -> dict | None:
    """Validates a `smooth=` argument into `{"samples", "noise", "seed", "kind"}` (or `None`).

    Args:
        smooth: `None`/`False` (no smoothing), `True` (the defaults: 50 samples, noise 0.15,
            seed 0, kind 'mean'), or a dict overriding some of them.
        param: The argument's name in messages (`smooth['samples']`); an empty string names
            the settings themselves (`samples`). Defaults to `"smooth"`.

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
    unknown = sorted(set(smooth) - set(_DEFAULTS), key=str)
    if unknown:
        raise ValueError(f"`smooth` has unknown keys {unknown}; valid keys: {list(_DEFAULTS)}.")

    def name(key: str) -> str:
        return f"{param}[{key!r}]" if param else key

    out = {**_DEFAULTS, **smooth}
    out["samples"] = checks.positive_int(out["samples"], name("samples"))
    out["noise"] = checks.positive_float(out["noise"], name("noise"))
    out["seed"] = checks.seed(out["seed"], name("seed"))
    if not isinstance(out["kind"], str) or out["kind"] not in KINDS:
        raise ValueError(f"`{name('kind')}` must be one of {list(KINDS)}, got {out['kind']!r}.")
    return out


def _per_call(x_list: list, samples: int, per_call: int | None) -> int:
    """Noisy copies per call: `per_call`, else `max(samples, 64)` within `_chunks.BATCH_BYTES`."""
    if per_call is not None:
        return per_call
    return copies_per_call(x_list, samples)


class _Aggregate:
    """The running mean / mean of squares / variance of one output's maps, per input."""

    def __init__(self, n: int, shape: tuple, kind: str, samples: int):
        self.kind, self.samples = kind, samples
        self.total = np.zeros((n,) + shape, dtype="float64")
        if kind == "var":
            self.count = np.zeros(n, dtype="int64")
            self.m2 = np.zeros((n,) + shape, dtype="float64")

    def add(self, i: int, maps: np.ndarray) -> None:
        if self.kind == "mean":
            self.total[i] += maps.sum(axis=0)
        elif self.kind == "square":
            self.total[i] += np.square(maps).sum(axis=0)
        else:  # Chan et al.'s merge of the chunk's mean and sum of squared deviations
            c, n = len(maps), int(self.count[i])
            mean = maps.mean(axis=0)
            delta = mean - self.total[i]
            self.total[i] += delta * (c / (n + c))
            self.m2[i] += np.square(maps - mean).sum(axis=0) + np.square(delta) * (n * c / (n + c))
            self.count[i] = n + c

    def result(self) -> np.ndarray:
        if self.kind == "var":
            return self.m2 / self.samples
        return self.total / self.samples


def smooth_maps(fn: Callable, x, noise_arrays: Callable, kind: str = "mean",
                per_call: int | None = None):
    """Aggregates `fn`'s maps over noisy copies of each input (the core of every noise tunnel).

    Sample `i` is evaluated at `x[i] + noise_arrays(i)[s]` for every draw `s`. The noisy copies
    are streamed: at most `per_call` of them are built and given to `fn` at a time (whole
    samples together when they fit, else a sample's draws in several calls), and the maps are
    aggregated as they come, so memory is bounded by `per_call`, not by the number of draws.
    For a multi-input model `x` is a list and `noise_arrays(i)` a list with one noise array per
    input (`None` for inputs left unperturbed, e.g. token ids, which are repeated as they are).

    Args:
        fn: `fn(noisy, owners) -> maps`: the maps of `noisy`, one per noisy copy (a list of
            arrays for a multi-input model; `None` for an input the method does not attribute
            stays `None`); `owners[j]` is the index in `x` of the sample copy `j` comes from.
        x: A validated batch `(N, ...)`, or a list of batches.
        noise_arrays: `i -> (S, ...)` noise draws of sample `i` (the same `S` for all), or a
            list of such arrays / `None`s; a `GaussianNoise` is streamed without building all
            `S` draws at once.
        kind: `'mean'`, `'square'` or `'var'`. Defaults to `'mean'`.
        per_call: The number of noisy copies per call of `fn`. Defaults to `None`
            (`max(S, 64)`, within about 64 MB of noisy inputs).

    Returns:
        The aggregated maps `(N, ...)` in `x`'s dtype (a list for a list of maps).

    Raises:
        ValueError: For an unknown `kind`, or noise arrays of the wrong shape.
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {list(KINDS)}, got {kind!r}.")
    xs, as_list = (list(x), True) if isinstance(x, list) else ([x], False)
    n = len(xs[0])
    draws = getattr(noise_arrays, "draws", None)
    if draws is None:  # a plain callable: all draws of a sample at once
        def draws(i: int, a: int, b: int) -> list:
            got = noise_arrays(i)
            got = list(got) if as_list else [got]
            return [None if d is None else np.asarray(d)[a:b] for d in got]

        first = draws(0, 0, None)
        present = [d for d in first if d is not None]
        if not present:
            raise ValueError("`noise_arrays` gave no noise for any input.")
        s = len(present[0])
    else:
        s = noise_arrays.samples
    per_call = _per_call(xs, s, per_call)
    outs: list | None = None
    returned_list = False
    for chunk in pieces([s] * n, per_call):
        noisy = [[] for _ in xs]
        for i, a, b in chunk:
            noise = draws(i, a, b)
            for k, xk in enumerate(xs):
                if noise[k] is None:
                    noisy[k].append(np.repeat(xk[i:i + 1], b - a, axis=0))
                    continue
                try:  # noise that broadcasts against one sample (e.g. (S, 1, 1, 1)) is fine
                    shape = np.broadcast_shapes(noise[k].shape, (b - a,) + xk.shape[1:])
                except ValueError:
                    shape = None
                if shape != (b - a,) + xk.shape[1:]:
                    raise ValueError(f"The noise of input {k} has shape {noise[k].shape[1:]} per "
                                     f"draw; expected {xk.shape[1:]} (or a shape that "
                                     "broadcasts to it).")
                values = xk[i] + noise[k]
                if xk.dtype.kind in "iu":  # pixel values: stay in the dtype's range
                    info = np.iinfo(xk.dtype)
                    values = np.clip(values, info.min, info.max)
                noisy[k].append(values.astype(xk.dtype))
        noisy = [parts[0] if len(parts) == 1 else np.concatenate(parts) for parts in noisy]
        owners = np.concatenate([np.full(b - a, i) for i, a, b in chunk])
        maps = fn(noisy if as_list else noisy[0], owners)
        returned_list = isinstance(maps, (list, tuple))
        maps = list(maps) if returned_list else [maps]
        if outs is None:  # None: an input the method does not attribute
            outs = [None if m is None else _Aggregate(n, tuple(np.shape(m)[1:]), kind, s)
                    for m in maps]
        for out, m in zip(outs, maps):
            if out is None:
                continue
            m = np.asarray(m)
            pos = 0
            for i, a, b in chunk:
                out.add(i, m[pos:pos + b - a].astype("float64"))
                pos += b - a
    # maps come back in their input's float dtype (one map per input), else in the first's
    float_dtypes = [xk.dtype if xk.dtype.kind == "f" else np.dtype("float32") for xk in xs]
    if len(outs) != len(float_dtypes):
        float_dtypes = [float_dtypes[0]] * len(outs)
    results = [None if out is None else out.result().astype(dtype)
               for out, dtype in zip(outs, float_dtypes)]
    return results if returned_list else results[0]


class GaussianNoise:
    """SmoothGrad's noise: one seeded standard-normal draw, scaled by each sample's range.

    Sample `i`'s draws of input `k` are `z_k * sigma_k[i]`, `sigma_k[i] = noise * (max(x_k[i]) -
    min(x_k[i]))`, with `z_k` the `samples` standard-normal arrays drawn from `seed` (input after
    input, in one stream). Calling it, `noise(i)`, returns all of sample `i`'s draws;
    `draws(i, a, b)` returns draws `a .. b - 1` only, regenerated from the seed when the whole
    draw is too large to keep (`smooth_maps` streams them this way).

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

    Raises:
        ValueError: If every input holds integers (token ids): there is nothing to add noise to.
    """

    def __init__(self, x, samples: int, noise: float, seed, pixel_inputs=()):
        xs, self.as_list = (list(x), True) if isinstance(x, list) else ([x], False)
        self.samples = int(samples)
        rng = np.random.default_rng(seed)
        self._inputs = []
        for k, xk in enumerate(xs):
            pixels = xk.dtype.kind != "f" and k in pixel_inputs
            if xk.dtype.kind != "f" and not pixels:
                self._inputs.append(None)
                continue
            flat = xk.reshape(len(xk), -1).astype("float64")
            sigmas = noise * (flat.max(axis=1) - flat.min(axis=1))
            shape = tuple(xk.shape[1:])
            state = rng.bit_generator.state
            size = self.samples * max(1, int(np.prod(shape))) * 8
            cached = None
            if size <= _CACHED_DRAW_BYTES:
                cached = rng.standard_normal((self.samples,) + shape)
            else:  # advance the stream past this input's draws, a chunk at a time
                step = max(1, _CACHED_DRAW_BYTES // max(1, int(np.prod(shape)) * 8))
                for start in range(0, self.samples, step):
                    rng.standard_normal((min(step, self.samples - start),) + shape)
            self._inputs.append({"shape": shape, "sigmas": sigmas, "state": state,
                                 "cached": cached, "pixels": pixels,
                                 "dtype": np.dtype("float64") if pixels else xk.dtype,
                                 "cursor": None})
        if not any(entry is not None for entry in self._inputs):
            raise ValueError("`smooth`: every input holds integers; there is nothing to add "
                             "noise to.")

    def _standard(self, entry: dict, a: int, b: int) -> np.ndarray:
        if entry["cached"] is not None:
            return entry["cached"][a:b]
        cursor = entry["cursor"]
        if cursor is None or cursor[1] != a:
            gen = np.random.default_rng()
            gen.bit_generator.state = entry["state"]
            step = max(1, _CACHED_DRAW_BYTES // max(1, int(np.prod(entry["shape"])) * 8))
            for start in range(0, a, step):  # skip the draws before `a`
                gen.standard_normal((min(step, a - start),) + entry["shape"])
            cursor = [gen, a]
        out = cursor[0].standard_normal((b - a,) + entry["shape"])
        cursor[1] = b
        entry["cursor"] = cursor
        return out

    def draws(self, i: int, a: int = 0, b: int | None = None) -> list:
        """Draws `a .. b - 1` of sample `i`: one array per input (`None` for token inputs)."""
        b = self.samples if b is None else b
        out = []
        for entry in self._inputs:
            if entry is None:
                out.append(None)
                continue
            scaled = self._standard(entry, a, b) * entry["sigmas"][i]
            out.append((np.rint(scaled) if entry["pixels"] else scaled).astype(entry["dtype"]))
        return out

    def __call__(self, i: int):
        """All draws of sample `i` (`(samples, ...)`, a list for several inputs)."""
        out = self.draws(i)
        return out if self.as_list else out[0]


def gaussian_noise(x, samples: int, noise: float, seed, pixel_inputs=()) -> GaussianNoise:
    """SmoothGrad's noise: one seeded standard-normal draw, scaled by each sample's range.

    Args:
        x: A batch, or a list of batches (one per input; integer inputs get no noise, except
            those in `pixel_inputs`).
        samples: Draws per sample.
        noise: The noise level, a fraction of each sample's value range.
        seed: The seed.
        pixel_inputs: Indices of integer inputs that hold pixel values (see `GaussianNoise`).
            Defaults to `()`.

    Returns:
        A `GaussianNoise`: `noise(i)` gives sample `i`'s draws `(samples, ...)`,
        `sigma_i = noise * (max(x_i) - min(x_i))` (for a list: one array per input, `None` for
        integer inputs); `smooth_maps` streams them.
    """
    return GaussianNoise(x, samples, noise, seed, pixel_inputs)


def noise_tunnel(method, model, x: np.ndarray, targets: np.ndarray, *, samples: int = 50,
                 noise: float = 0.15, seed: int | None = 0, kind: str = "mean",
                 batch_size: int | None = None, method_options: dict | None = None,
                 settings_name: str = "", **options) -> np.ndarray:
    """Any method's maps aggregated over Gaussian noisy copies of the inputs.

    The noisy copies are streamed (see `smooth_maps`); a request for more than
    `vis.utils.checks.MAX_COPIES` noisy copies (`samples` times the number of inputs) is
    refused up front.

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
        method_options: The method's options, as a dict (for options whose names are also
            settings of the tunnel, e.g. `samples` of `kernel_shap`). Defaults to `None`.
        settings_name: How messages name the settings: `"smooth"` gives
            `smooth['samples']`; `""` gives `samples`. Defaults to `""`.
        **options: More options of the method.

    Returns:
        The aggregated maps.

    Raises:
        ValueError: Invalid settings, or more than `MAX_COPIES` noisy copies.

    Example:
        >>> from vis import methods
        >>> maps = noise_tunnel(methods.get("guided_backprop"), model, x, y, samples=16)
    """
    from vis.inputs import pixel_inputs
    from vis.methods._base import get

    method = get(method)
    settings = check_smooth({"samples": samples, "noise": noise, "seed": seed, "kind": kind},
                            settings_name)
    options = {**(method_options or {}), **options}
    s = settings["samples"]
    n = len(x[0]) if isinstance(x, list) else len(x)
    label = f"{settings_name}['samples']" if settings_name else "samples"
    checks.work(s * n, label, s, "noisy copies of the inputs")
    per_call = _per_call(list(x) if isinstance(x, list) else [x], s, batch_size)
    noise_arrays = gaussian_noise(x, s, settings["noise"], settings["seed"], pixel_inputs(model))

    def fn(noisy, owners: np.ndarray):
        return method(model, noisy, targets[owners], batch_size=per_call, **options)

    return smooth_maps(fn, x, noise_arrays, settings["kind"], per_call)
