"""What the metrics share: checks, maps from a method or an array, pixels, baselines, scores.

A *pixel* is one spatial position of the input, all its channels together: maps shaped like the
input are summed over its channel axis (found as the sanity checks find it,
`vis.sanity._layout.auto_channel_axis`), and CAM maps `(N, *spatial)` are already per pixel.
Every forward pass goes through `vis.engine` (compiled, batched); perturbed inputs are built
and scored in chunks of at most `MAX_CHUNK_VALUES` input values.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vis import engine, methods
from vis.errors import ZeroMapWarning
from vis.utils import checks

__all__ = ["SCORES", "MAX_CHUNK_VALUES", "Layout", "prepare", "maps_for", "pixel_maps",
           "expand", "baselines", "score_function", "run_perturbed", "sample_rngs", "check_int",
           "check_positive", "check_seed", "is_method", "bind_method"]

SCORES = ("probability", "logit")
# The most input values (e.g. 32 M floats: 128 MB in float32) built at once for one chunk of
# perturbed inputs; each chunk is scored in one compiled call unless `batch_size` is smaller.
MAX_CHUNK_VALUES = 2 ** 25


# --- argument checks ---------------------------------------------------------------------------


def check_int(value, name: str, minimum: int = 1) -> int:
    """`value` as an int >= `minimum`, or a ValueError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {value!r}.")
    return int(value)


def check_positive(value, name: str, allow_zero: bool = False) -> float:
    """`value` as a finite float > 0 (or >= 0), or a ValueError naming the parameter."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
          and np.isfinite(value) and (value >= 0 if allow_zero else value > 0))
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be a finite number {bound}, got {value!r}.")
    return float(value)


def check_seed(seed) -> int | None:
    return checks.seed(seed, "seed")


def check_score(score) -> str:
    if score not in SCORES:
        raise ValueError(f"`score` must be one of {list(SCORES)}, got {score!r}.")
    return score


def sample_rngs(seed: int | None, n: int) -> list[np.random.Generator]:
    """One generator per input, from `seed`: input `i` gets the same draws whatever `N` is
    and however the inputs are chunked."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


# --- inputs, targets and maps ------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where the input's channels are: `channel_axis` (of the batch; `None`: no channel axis)
    and the `spatial` shape of one sample (its shape without the channel axis)."""

    channel_axis: int | None
    spatial: tuple[int, ...]

    @property
    def pixels(self) -> int:
        return int(np.prod(self.spatial))


def prepare(model, inputs, targets, batch_size=None):
    """`(x, t, layout)`: the validated batch, one target per sample, and the channel layout.

    Raises:
        ValueError, TypeError: As `vis.explain` for bad inputs or targets.
    """
    from vis.sanity._layout import auto_channel_axis, spatial_shape

    batch_size = engine.check_batch_size(batch_size)
    x, _ = engine.prepare_input(model, inputs, "inputs")
    t = methods.resolve_targets(model, x, targets, batch_size=batch_size)
    axis = auto_channel_axis(model, x.ndim)
    if axis is not None:
        axis = axis % x.ndim
    return x, t, Layout(axis, spatial_shape(x.shape, axis))


def bind_method(method, **options) -> methods.Method:
    """A method with `options` bound, for options named like a metric's own parameters.

    `deletion(model, x, "integrated_gradients", y, steps=20)` gives `steps=20` to the deletion
    curve; to set the method's own `steps` (or `baseline`, `seed`, `samples`, `noise`), bind it.

    Args:
        method: A method name, `vis.methods.Method` or callable.
        **options: The method's options.

    Returns:
        A `vis.methods.Method` whose `raw` has `options` bound (same name, family and output).

    Raises:
        ValueError: For an unknown method name.
        TypeError: For an option the method does not take.

    Example:
        >>> ig = bind_method("integrated_gradients", steps=128)
        >>> curve = vis.metrics.deletion(model, x, ig, y, steps=20)
    """
    import dataclasses
    import functools

    m = methods.get(method)
    unknown = [k for k in options if not m.accepts(k)]
    if unknown:
        raise TypeError(f"Method {m.name!r} does not take the option(s) {unknown}; its options "
                        f"are {sorted(m.options())}.")
    if not options:
        return m
    return dataclasses.replace(m, raw=functools.partial(m.raw, **options))


def is_method(attributions) -> bool:
    """Whether `attributions` names a method (a name, a `Method`, a callable), not maps."""
    return isinstance(attributions, (str, methods.Method)) or callable(attributions)


def maps_for(model, x, t, attributions, options: dict, batch_size=None,
             quiet: bool = False) -> np.ndarray:
    """The maps: `attributions` itself (checked), or computed with `vis.explain` for a method.

    Raises:
        TypeError: For method options given with precomputed maps.
        ValueError: For maps that are not one finite map per sample.
    """
    if is_method(attributions):
        from vis._explain import explain

        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore", ZeroMapWarning)
            maps = explain(model, x, attributions, t, batch_size=batch_size, **options)
        maps = np.asarray(maps)
        if not np.all(np.isfinite(maps)):
            raise ValueError(f"The method {getattr(attributions, '__name__', attributions)!r} "
                             "(`method` / `attributions`) gave maps with NaN or inf values; the "
                             "metric needs finite maps.")
        return maps
    if options:
        raise TypeError(
            f"Options {sorted(options)} are for a method: pass `attributions` as a method name "
            "or callable to use them, or drop them with precomputed maps."
        )
    try:
        maps = np.asarray(attributions)
    except Exception as exc:
        raise TypeError(f"`attributions` must be an array of maps or a method, got "
                        f"{type(attributions).__name__}.") from exc
    if not np.issubdtype(maps.dtype, np.number) or np.issubdtype(maps.dtype, np.complexfloating):
        raise TypeError(f"`attributions` must hold real numbers, got dtype {maps.dtype}.")
    if maps.ndim < 2 or len(maps) != len(x):
        raise ValueError(
            f"`attributions` has shape {maps.shape}; expected one map per input ({len(x)}), "
            f"shaped like the inputs {x.shape} or like their spatial axes."
        )
    return maps


def pixel_maps(maps: np.ndarray, x: np.ndarray, layout: Layout,
               param: str = "attributions") -> np.ndarray:
    """One float64 value per pixel `(N, *spatial)`: maps like `x` summed over its channels.

    Raises:
        ValueError: For maps shaped neither like `x` nor like its spatial axes, or with NaN/inf.
    """
    spatial = (len(x),) + layout.spatial
    if maps.shape == x.shape:
        out = maps.sum(axis=layout.channel_axis, dtype="float64") \
            if layout.channel_axis is not None else maps.astype("float64")
    elif maps.shape == spatial:
        out = maps.astype("float64")
    else:
        raise ValueError(
            f"`{param}` has shape {maps.shape}; expected the inputs' shape {x.shape} or their "
            f"spatial shape {spatial} (CAM maps)."
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"`{param}` contains NaN or inf values.")
    return out


def expand(pixel_array: np.ndarray, layout: Layout) -> np.ndarray:
    """A per-pixel array `(K, *spatial)` with the channel axis put back (size 1, broadcasts)."""
    if layout.channel_axis is None:
        return pixel_array
    return np.expand_dims(pixel_array, layout.channel_axis)


def baselines(baseline, x: np.ndarray, layout: Layout) -> np.ndarray:
    """The baseline images, shaped like `x`: a value, an array, `"blur"` or a callable.

    `"blur"`: a Gaussian blur of each image over its spatial axes (each channel separately),
    sigma `min(5, min(spatial) / 8)` pixels (5 px: Petsiuk et al.'s code on 224 px images).

    Raises:
        ValueError: For an unknown string, a shape that does not broadcast, or NaN/inf values.
    """
    def blur(x: np.ndarray) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        sigma = min(5.0, min(layout.spatial) / 8.0)
        sigmas = [0.0] + [sigma] * (x.ndim - 1)
        if layout.channel_axis is not None:
            sigmas[layout.channel_axis] = 0.0
        return gaussian_filter(x.astype("float64"), sigmas, mode="nearest")

    b = checks.baseline(baseline, x, "baseline", names={"blur": blur})
    return np.ascontiguousarray(b, dtype=x.dtype)


# --- scores ------------------------------------------------------------------------------------


def score_function(model, score: str) -> Callable[[np.ndarray, np.ndarray, int | None],
                                                  np.ndarray]:
    """`f(X, targets, batch_size) -> (M,)` float64: the target's probability or logit.

    `"logit"`: the pre-softmax target score (what the maps explain), `vis.engine.scores`.
    `"probability"`: the model's output for the target (its softmax probability; for a model
    whose output layer is not a softmax, the output itself), `vis.engine.activations`. Outputs
    with spatial axes are averaged over them, as the target score is defined.
    """
    check_score(score)
    if score == "logit":
        def f(X, targets, batch_size=None):
            losses = methods.target_score(-1, targets)
            return engine.scores(model, losses, X, batch_size=batch_size).astype("float64")
        return f

    copy = engine.get_copy(model)
    caxis = copy.channel_axis(copy.layer(-1, "output")[1])

    def f(X, targets, batch_size=None):
        out = np.asarray(engine.activations(model, X, -1, batch_size=batch_size), "float64")
        if out.ndim > 2:
            c = caxis % out.ndim
            out = out.mean(axis=tuple(a for a in range(1, out.ndim) if a != c))
        return out.reshape(len(X), -1)[np.arange(len(X)), targets]
    return f


def check_work(k: int, n: int, sample_values: int, name: str, value,
               bytes_per_value: int = 24) -> None:
    """Refuses `k` perturbed copies of each of `n` inputs when that is absurd, up front.

    More than `vis.utils.checks.MAX_COPIES` copies in all, or one input's copies (built at
    once, with their temporaries: about `bytes_per_value * k * sample_values` bytes; 24 for
    float64 temporaries) over `vis.utils.checks.MAX_BYTES`, raise a `ValueError` naming `name`
    and the number needed.
    """
    checks.work(k * n, name, value, "perturbed copies of the inputs")
    checks.memory(bytes_per_value * k * sample_values, name, value,
                  f"{k:,} perturbed copies of one input")


def run_perturbed(f, make: Callable[[np.ndarray], np.ndarray], t: np.ndarray, k: int,
                  sample_values: int, batch_size: int | None = None) -> np.ndarray:
    """Scores `k` perturbed copies of each of `len(t)` inputs: `(N, k)` float64.

    `make(idx)` builds the `len(idx) * k` perturbed inputs of inputs `idx` (input-major). The
    inputs are chunked so that a chunk holds at most `MAX_CHUNK_VALUES` values (whole inputs,
    `k` copies each); each chunk is one compiled call (or `batch_size`-sized calls).
    """
    n = len(t)
    per_chunk = max(1, MAX_CHUNK_VALUES // max(1, k * sample_values))
    out = np.empty((n, k), dtype="float64")
    for start in range(0, n, per_chunk):
        idx = np.arange(start, min(n, start + per_chunk))
        X = make(idx)
        out[idx] = f(X, np.repeat(t[idx], k), batch_size).reshape(len(idx), k)
    return out
