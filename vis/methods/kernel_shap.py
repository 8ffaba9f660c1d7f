"""KernelSHAP (Lundberg & Lee 2017): Shapley values of segments by weighted least squares.

Paper: "A Unified Approach to Interpreting Model Predictions", https://arxiv.org/abs/1705.07874.
The features are the image's segments (`segments=`: SLIC superpixels or your labels); a
coalition `z` in {0, 1}^M keeps the segments with `z_j = 1` and replaces the others by the
baseline, and `f(z)` is the pre-softmax target score of that image. The Shapley values `phi`
minimize `sum_z pi(z) (f(z) - f(0) - z . phi)^2` with the Shapley kernel
`pi(z) = (M - 1) / (C(M, |z|) |z| (M - |z|))`, under the efficiency constraint
`sum_j phi_j = f(1) - f(0)`, solved exactly by eliminating the last feature. With
`2**M <= samples` every coalition is evaluated and the values are the exact Shapley values;
otherwise `samples - 2` coalitions are drawn from the kernel (their size `s` with probability
proportional to `(M - 1) / (s (M - s))`, then a uniform subset) and weighted equally.
"""

from __future__ import annotations

import math

import numpy as np

from vis.methods._base import Method, register
from vis.methods._perturb import (
    Evaluator,
    as_inputs,
    channel_axis_of,
    check_seed,
    map_dtype,
    not_an_image,
    per_input_option,
    positive_int,
    resolve_baseline,
    select_inputs,
    spatial_axes,
)
from vis.methods._segments import coalition_inputs, resolve_segments, to_pixels
from vis.utils import checks

__all__ = ["raw", "shapley_coalitions", "solve_shapley"]


def shapley_coalitions(m: int, samples: int, rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Coalitions of `m` features and their regression weights.

    The full and the empty coalition come first (the constraint's two ends, weight `inf`);
    then every other coalition with its Shapley kernel weight when `2**m <= samples`, else
    `samples - 2` coalitions drawn from the kernel with weight 1.

    Args:
        m: The number of features.
        samples: The number of coalitions to evaluate (>= 2).
        rng: The random generator.

    Returns:
        `(z, weights)`: a 0/1 float array `(S, m)` and `(S,)` weights.

    Example:
        >>> z, w = shapley_coalitions(2, 8, np.random.default_rng(0))
        >>> z.tolist(), w.tolist()
        ([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], [inf, inf, 0.5, 0.5])
    """
    ends = np.array([np.ones(m), np.zeros(m)])
    if m <= 1:
        return ends, np.full(2, np.inf)
    if m < 63 and 2**m <= samples:
        codes = np.arange(1, 2**m - 1)
        z = ((codes[:, None] >> np.arange(m)[None]) & 1).astype("float64")
        s = z.sum(axis=1).astype(int)
        comb = np.array([math.comb(m, int(k)) for k in range(m + 1)], dtype="float64")
        w = (m - 1) / (comb[s] * s * (m - s))
    else:
        sizes = np.arange(1, m)
        p = (m - 1) / (sizes * (m - sizes))
        s = rng.choice(sizes, size=max(samples - 2, 0), p=p / p.sum())
        ranks = np.argsort(np.argsort(rng.random((len(s), m)), axis=1), axis=1)
        z = (ranks < s[:, None]).astype("float64")
        w = np.ones(len(z))
    return np.concatenate([ends, z]), np.concatenate([np.full(2, np.inf), w])


def solve_shapley(z: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Shapley values from coalition scores: weighted least squares with efficiency.

    Args:
        z: Coalitions `(S, m)`; row 0 the full, row 1 the empty coalition.
        y: Their scores `(S,)`.
        weights: Their weights (rows 0 and 1 are the constraint, not regressed).

    Returns:
        `phi` `(m,)` with `sum(phi) == y[0] - y[1]`.
    """
    m = z.shape[1]
    delta = y[0] - y[1]
    if m == 1:
        return np.array([delta])
    z, t, w = z[2:], y[2:] - y[1], weights[2:]
    X = z[:, :-1] - z[:, -1:]  # phi_m = delta - sum(phi_1..m-1)
    t = t - z[:, -1] * delta
    sw = np.sqrt(w)
    rest = np.linalg.lstsq(X * sw[:, None], t * sw, rcond=None)[0]
    return np.append(rest, delta - rest.sum())


def raw(model, inputs, targets, *, output=-1, segments="slic", n_segments: int = 50,
        baseline=0.0, samples: int = 1000, seed: int | None = 0, input=None,
        batch_size: int | None = None, verbose: bool | None = None):
    """KernelSHAP maps: each pixel gets its segment's Shapley value, signed.

    Args:
        model: A Keras image model (never modified).
        inputs: A validated batch of images `(N, H, W, C)`; for a multi-input model, a list of
            batches.
        targets: One class / unit index per sample.
        output: The output layer whose (pre-softmax) score is explained. Defaults to `-1`.
        segments: `"slic"` (scikit-image SLIC superpixels of each image), or int labels
            `(H, W)` (the same for every image) or `(N, H, W)`; for several image inputs, a
            dict keyed by input name. Defaults to `"slic"`.
        n_segments: SLIC's target number of segments. Defaults to `50`.
        baseline: What replaces an absent segment: a number, an array (one image, the batch, or
            one value per channel), `"mean"` (the image's per-channel mean) or `"blur"`; for
            several inputs, also a list or a dict with one entry per input. Defaults to `0.0`.
        samples: Coalitions evaluated per image (all of them, exactly, when `2**M <= samples`).
            Defaults to `1000`.
        seed: The seed of the coalitions (the same draws for every image). Defaults to `0`.
        input: The image input(s) whose segments are the features, each input separately
            while the others keep their values (multi-input models): an index, a name, or a
            list of them. Defaults to `None` (every image input).
        batch_size: Perturbed images per compiled call. Defaults to `None` (about 64 MB).
        verbose: Progress bar: `None` (when the work should take more than 2 s), `True` or
            `False`. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`; each sums over segments to `f(x) - f(baseline)` (the
        baseline replacing that input only). For a multi-input model, a list with one map per
        input, `None` for the inputs not perturbed.

    Raises:
        ValueError: Bad segments, `samples < 2`, more than `vis.utils.checks.MAX_COPIES`
            coalitions (or coalitions over `MAX_BYTES`), bad baseline or seed, inputs that are
            not images, or an `input` that is not an image.

    Example:
        >>> maps = raw(model, x, y, segments=np.arange(64).reshape(8, 8) // 16, samples=64)
    """
    n_segments = positive_int(n_segments, "n_segments")
    if positive_int(samples, "samples") < 2:
        raise ValueError(f"`samples` must be at least 2 (the full and empty coalitions), got "
                         f"{samples!r}.")
    seed = check_seed(seed)
    xs, multi = as_inputs(inputs)
    chosen = select_inputs(model, xs, input, "kernel_shap", not_an_image)
    segs = per_input_option(model, segments, "segments", "slic", len(xs))
    bases = per_input_option(model, baseline, "baseline", 0.0, len(xs), sequences=True)
    maps: list = [None] * len(xs)
    for k in chosen:
        maps[k] = _kernel_shap(model, xs, k, targets, output, segs[k], n_segments, bases[k],
                               samples, seed, batch_size, verbose)
    return maps if multi else maps[0]


def _kernel_shap(model, xs, index, targets, output, segments, n_segments, baseline, samples,
                 seed, batch_size, verbose) -> np.ndarray:
    """The KernelSHAP map of input `index` (the others held at their values)."""
    x = xs[index]
    axes = spatial_axes(model, x, "kernel_shap")
    if len(axes) != 2:
        raise ValueError(f"kernel_shap explains images (N, H, W, C); got shape {x.shape}.")
    caxis = channel_axis_of(model, x)
    labels = resolve_segments(segments, x, axes, caxis, n_segments)
    base = resolve_baseline(baseline, x, mean_axes=axes, blur_axes=axes)
    features = [int(lab.max()) + 1 for lab in labels]
    counts = [2 if m <= 1 else 2**m if m < 63 and 2**m <= samples else samples
              for m in features]
    checks.work(sum(counts), "samples", samples, "coalitions (perturbed copies of the inputs)")
    checks.memory(24 * sum(c * m for c, m in zip(counts, features)), "samples", samples,
                  "coalitions")
    plans = [shapley_coalitions(m, samples, np.random.default_rng(seed)) for m in features]
    ev = Evaluator(model, xs if len(xs) > 1 else x, targets, output=output, input_index=index,
                   batch_size=batch_size, verbose=verbose, desc="kernel_shap")
    scores = ev.run([len(z) for z, _ in plans], lambda i, sl: coalition_inputs(
        x[i], base[i], labels[i], plans[i][0][sl], caxis))
    maps = [to_pixels(solve_shapley(z, y, w), lab, x.shape[1:], caxis)
            for (z, w), y, lab in zip(plans, scores, labels)]
    return np.stack(maps).astype(map_dtype(x))


register(Method(
    "kernel_shap", raw, family="perturbation", signed=True, aliases=("kernelshap",),
    description="Shapley values of image segments by kernel-weighted least squares.",
    paper="Lundberg & Lee 2017, https://arxiv.org/abs/1705.07874",
))
