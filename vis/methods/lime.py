"""LIME (Ribeiro et al. 2016): a locally weighted linear model over image segments.

Paper: "Why Should I Trust You?: Explaining the Predictions of Any Classifier",
https://arxiv.org/abs/1602.04938. As LIME's image explainer: `samples` coalitions
`z` in {0, 1}^M (each segment kept with probability 1/2; the first keeps all) replace the absent
segments by the baseline; `f(z)` is the pre-softmax target score. Each coalition is weighted by
the exponential kernel `exp(-d^2 / width^2)` of its cosine distance `d = 1 - sqrt(|z| / M)` to
the all-ones coalition, and scikit-learn's `Ridge(alpha)` fits `f(z) ~ b + z . w`; each pixel
gets its segment's coefficient. (LIME's own code weights by the square root of this kernel,
i.e. uses `width * sqrt(2)`.)
"""

from __future__ import annotations

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

__all__ = ["raw", "lime_coalitions", "lime_weights"]


def lime_coalitions(m: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """`samples` random 0/1 coalitions of `m` segments, the first one all ones.

    Example:
        >>> lime_coalitions(3, 4, np.random.default_rng(0))[0].tolist()
        [1.0, 1.0, 1.0]
    """
    z = rng.integers(0, 2, size=(samples, m)).astype("float64")
    z[0] = 1.0
    return z


def lime_weights(z: np.ndarray, width: float) -> np.ndarray:
    """The exponential kernel of the cosine distance of each coalition to all ones.

    Example:
        >>> lime_weights(np.array([[1., 1.], [0., 0.]]), 0.25).round(6).tolist()
        [1.0, 0.0]
    """
    d = 1.0 - np.sqrt(z.sum(axis=1) / z.shape[1])
    return np.exp(-(d**2) / width**2)


def _positive_number(value, name: str) -> float:
    return checks.positive_float(value, name)


def raw(model, inputs, targets, *, output=-1, segments="slic", n_segments: int = 50,
        baseline=0.0, samples: int = 1000, width: float = 0.25, alpha: float = 1.0,
        seed: int | None = 0, input=None, batch_size: int | None = None,
        verbose: bool | None = None):
    """LIME maps: each pixel gets its segment's coefficient in the local linear model, signed.

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
        baseline: What replaces an absent segment: a number, an array, `"mean"` or `"blur"`;
            for several inputs, also a list or a dict with one entry per input. Defaults to
            `0.0`.
        samples: Coalitions evaluated per image. Defaults to `1000`.
        width: The kernel width on the cosine distance. Defaults to `0.25` (LIME's image
            explainer).
        alpha: The ridge penalty of `sklearn.linear_model.Ridge`. Defaults to `1.0`.
        seed: The seed of the coalitions (the same draws for every image). Defaults to `0`.
        input: The image input(s) whose segments are the features, each input separately
            while the others keep their values (multi-input models): an index, a name, or a
            list of them. Defaults to `None` (every image input).
        batch_size: Perturbed images per compiled call. Defaults to `None` (about 64 MB).
        verbose: Progress bar: `None` (when the work should take more than 2 s), `True` or
            `False`. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`; for a multi-input model, a list with one map per input,
        `None` for the inputs not perturbed.

    Raises:
        ValueError: Bad segments, samples, width, alpha, baseline or seed, more than
            `vis.utils.checks.MAX_COPIES` coalitions, inputs that are not images, or an
            `input` that is not an image.

    Example:
        >>> maps = raw(model, x, y, n_segments=16, samples=500)
    """
    n_segments = positive_int(n_segments, "n_segments")
    samples = positive_int(samples, "samples")
    width = _positive_number(width, "width")
    alpha = _positive_number(alpha, "alpha")
    seed = check_seed(seed)
    xs, multi = as_inputs(inputs)
    chosen = select_inputs(model, xs, input, "lime", not_an_image)
    segs = per_input_option(model, segments, "segments", "slic", len(xs))
    bases = per_input_option(model, baseline, "baseline", 0.0, len(xs), sequences=True)
    maps: list = [None] * len(xs)
    for k in chosen:
        maps[k] = _lime(model, xs, k, targets, output, segs[k], n_segments, bases[k], samples,
                        width, alpha, seed, batch_size, verbose)
    return maps if multi else maps[0]


def _lime(model, xs, index, targets, output, segments, n_segments, baseline, samples, width,
          alpha, seed, batch_size, verbose) -> np.ndarray:
    """The LIME map of input `index` (the others held at their values)."""
    from sklearn.linear_model import Ridge

    x = xs[index]
    axes = spatial_axes(model, x, "lime")
    if len(axes) != 2:
        raise ValueError(f"lime explains images (N, H, W, C); got shape {x.shape}.")
    caxis = channel_axis_of(model, x)
    labels = resolve_segments(segments, x, axes, caxis, n_segments)
    base = resolve_baseline(baseline, x, mean_axes=axes, blur_axes=axes)
    features = [int(lab.max()) + 1 for lab in labels]
    checks.work(samples * len(x), "samples", samples, "coalitions (perturbed copies of the "
                "inputs)")
    checks.memory(16 * samples * sum(features), "samples", samples, "coalitions")
    plans = [lime_coalitions(m, samples, np.random.default_rng(seed)) for m in features]
    ev = Evaluator(model, xs if len(xs) > 1 else x, targets, output=output, input_index=index,
                   batch_size=batch_size, verbose=verbose, desc="lime")
    scores = ev.run([samples] * len(x), lambda i, sl: coalition_inputs(
        x[i], base[i], labels[i], plans[i][sl], caxis))
    maps = []
    for z, y, lab in zip(plans, scores, labels):
        fit = Ridge(alpha=alpha).fit(z, y, sample_weight=lime_weights(z, width))
        maps.append(to_pixels(fit.coef_, lab, x.shape[1:], caxis))
    return np.stack(maps).astype(map_dtype(x))


register(Method(
    "lime", raw, family="perturbation", signed=True,
    description="Coefficients of a kernel-weighted ridge model of the score over segments.",
    paper="Ribeiro et al. 2016, https://arxiv.org/abs/1602.04938",
))
