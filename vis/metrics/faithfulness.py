"""Faithfulness: does removing what the map calls relevant change the model's score?

- `deletion` / `insertion` (Petsiuk et al. 2018, "RISE", https://arxiv.org/abs/1806.07421):
  pixels ranked by attribution; at step `s` of `steps` the top `(s * P) // steps` pixels are
  set to the baseline (deletion) or copied into the baseline image (insertion). Deletion is
  the MoRF ("most relevant first") pixel flipping of Samek et al. 2017.
- `pixel_flipping` (Samek et al. 2017, https://arxiv.org/abs/1509.06321): MoRF over
  non-overlapping `region x region` patches ranked by summed attribution, summarized by the
  AOPC (area over the perturbation curve).
- `faithfulness_correlation` (Bhatt et al. 2020, https://arxiv.org/abs/2005.00631): the Pearson
  correlation, over random pixel subsets, between the subset's summed attribution and the
  score drop when the subset is set to the baseline.

A pixel is a spatial position with all its channels; maps shaped like the input are summed over
the channels to rank pixels. Ties are broken by the flat pixel index (stable). Every perturbed
input is scored in large compiled batches (`vis.engine`): a 100-step curve of 32 images is one
call of 3232 images.
"""

from __future__ import annotations

import numpy as np

from vis.metrics import _common
from vis.metrics.curve import Curve

__all__ = ["deletion", "insertion", "pixel_flipping", "faithfulness_correlation", "Curve"]


def _ranks(values: np.ndarray) -> np.ndarray:
    """Each item's rank in decreasing order of `values` (row-wise; ties by index): `(N, G)`."""
    order = np.argsort(-values, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(values.shape[1]), values.shape),
                      axis=1)
    return ranks


def _curve(kind, model, inputs, attributions, targets, steps, baseline, score, batch_size,
           options, region=None) -> Curve:
    x, t, layout = _common.prepare(model, inputs, targets, batch_size)
    f = _common.score_function(model, score)
    maps = _common.maps_for(model, x, t, attributions, options, batch_size)
    pix = _common.pixel_maps(maps, x, layout).reshape(len(x), -1)
    base = _common.baselines(baseline, x, layout)
    if region is None:
        ranks, count = _ranks(pix), pix.shape[1]
    else:
        labels, count = _regions(layout.spatial, region)
        offsets = (labels[None, :] + count * np.arange(len(x))[:, None]).ravel()
        sums = np.bincount(offsets, weights=pix.ravel(), minlength=len(x) * count)
        ranks = _ranks(sums.reshape(len(x), count))[:, labels]
    if steps is None:
        steps = min(count, 100)
    steps = _common.check_int(steps, "steps")
    # `make` holds the inputs and baselines repeated, the masks and the result at once
    _common.check_work(steps + 1, len(x), x[0].size, "steps", steps,
                       bytes_per_value=3 * max(x.dtype.itemsize, base.dtype.itemsize) + 1)
    removed = (np.arange(steps + 1) * count) // steps
    inserting = kind == "insertion"

    def make(idx):
        masks = ranks[idx][:, None, :] < removed[None, :, None]
        masks = _common.expand(masks.reshape((-1,) + layout.spatial), layout)
        xs, bs = np.repeat(x[idx], steps + 1, axis=0), np.repeat(base[idx], steps + 1, axis=0)
        return np.where(masks, xs, bs) if inserting else np.where(masks, bs, xs)

    scores = _common.run_perturbed(f, make, t, steps + 1, x[0].size, batch_size)
    return Curve(kind, scores, removed / count, score)


def _regions(spatial: tuple[int, ...], region) -> tuple[np.ndarray, int]:
    """The region label of each pixel (flat, C order) and the number of regions."""
    region = _common.check_int(region, "region")
    counts = [-(-s // region) for s in spatial]
    grids = np.meshgrid(*[np.arange(s) // region for s in spatial], indexing="ij")
    return np.ravel_multi_index(grids, counts).ravel(), int(np.prod(counts))


def deletion(model, inputs, attributions, targets=None, *, steps: int = 100, baseline=0.0,
             score: str = "probability", batch_size: int | None = None, **options) -> Curve:
    """Deletion curve (Petsiuk et al. 2018): remove the most relevant pixels first.

    Pixels are ranked by attribution (maps shaped like the input summed over its channels;
    ties by flat index). At step `s = 0..steps` the top `(s * P) // steps` of the `P` pixels
    (all their channels) are set to the baseline, and the target's score is recorded. A faithful
    map makes the score fall fast: a low `Curve.auc` is better.

    Paper: V. Petsiuk, A. Das, K. Saenko, "RISE: Randomized Input Sampling for Explanation of
    Black-box Models", BMVC 2018, https://arxiv.org/abs/1806.07421.

    Args:
        model: The Keras model (never modified).
        inputs: A batch of inputs (or one input).
        attributions: Precomputed maps (shaped like `inputs`, or like their spatial axes: CAM
            maps), or a method (name, `vis.methods.Method` or callable) computed with
            `vis.explain` and `**options`.
        targets: `None` (each input's predicted class), an int, or one int per input.
            Defaults to `None`.
        steps: The number of steps, an int >= 1. Defaults to `100`.
        baseline: What removed pixels become: a number, an array broadcasting to one input or
            the batch, `"blur"` (a Gaussian blur of the input, sigma `min(5, min(H, W) / 8)`
            px) or a callable `inputs -> baselines`. Defaults to `0.0`.
        score: `"probability"` (the model's output for the target: the softmax probability;
            for a model without a softmax output, the output itself) or `"logit"` (the
            pre-softmax score). Defaults to `"probability"`.
        batch_size: The most images per compiled call. Defaults to `None` (chunks of at most
            32 M input values each).
        **options: The method's options (with `attributions` a method).

    Returns:
        A `Curve` with `scores` `(N, steps + 1)`, `auc` `(N,)` and `plot()`.

    Raises:
        ValueError: For `steps < 1`, an unknown `score` or `baseline`, maps of the wrong shape
            or with NaN/inf, bad inputs or targets.
        TypeError: For arguments of the wrong type, or options with precomputed maps.

    Example:
        >>> curve = deletion(model, x, "integrated_gradients", y, steps=16)
        >>> curve.auc.mean()  # lower is better
    """
    return _curve("deletion", model, inputs, attributions, targets, steps, baseline, score,
                  batch_size, options)


def insertion(model, inputs, attributions, targets=None, *, steps: int = 100, baseline=0.0,
              score: str = "probability", batch_size: int | None = None, **options) -> Curve:
    """Insertion curve (Petsiuk et al. 2018): insert the most relevant pixels first.

    Starting from the baseline image, at step `s = 0..steps` the top `(s * P) // steps` pixels
    (ranked as in `deletion`) are copied from the input. A faithful map makes the score rise
    fast: a high `Curve.auc` is better. `baseline="blur"` is the paper's choice for insertion.

    Paper: V. Petsiuk, A. Das, K. Saenko, "RISE", BMVC 2018, https://arxiv.org/abs/1806.07421.

    Args:
        model: The Keras model (never modified).
        inputs: A batch of inputs (or one input).
        attributions: Precomputed maps or a method (see `deletion`).
        targets: `None` (predicted classes), an int, or one int per input. Defaults to `None`.
        steps: The number of steps, an int >= 1. Defaults to `100`.
        baseline: The image the pixels are inserted into (see `deletion`). Defaults to `0.0`.
        score: `"probability"` or `"logit"` (see `deletion`). Defaults to `"probability"`.
        batch_size: The most images per compiled call. Defaults to `None`.
        **options: The method's options (with `attributions` a method).

    Returns:
        A `Curve` (`scores[:, 0]` is the baseline's score, `scores[:, -1]` the input's).

    Raises:
        ValueError: As `deletion`.
        TypeError: As `deletion`.

    Example:
        >>> curve = insertion(model, x, "gradient", y, steps=16, baseline="blur")
        >>> curve.auc.mean()  # higher is better
    """
    return _curve("insertion", model, inputs, attributions, targets, steps, baseline, score,
                  batch_size, options)


def pixel_flipping(model, inputs, attributions, targets=None, *, region: int = 1,
                   steps: int | None = None, baseline=0.0, score: str = "probability",
                   batch_size: int | None = None, **options) -> Curve:
    """Region perturbation, most relevant first (MoRF; Samek et al. 2017).

    The input's spatial axes are cut into non-overlapping `region x region` patches (partial
    patches at the far borders), ranked by their summed attribution (ties by patch index). At
    step `s` the top `(s * R) // steps` of the `R` patches are set to the baseline. The
    summary is the AOPC, `Curve.aopc`: the mean drop of the score over the steps, higher is
    better. With `region=1` and `steps=P` the curve is `deletion`'s.

    Paper: W. Samek, A. Binder, G. Montavon, S. Lapuschkin, K.-R. Müller, "Evaluating the
    Visualization of What a Deep Neural Network Has Learned", IEEE TNNLS 2017,
    https://arxiv.org/abs/1509.06321 (9 x 9 regions on 224 px images).

    Args:
        model: The Keras model (never modified).
        inputs: A batch of inputs (or one input).
        attributions: Precomputed maps or a method (see `deletion`).
        targets: `None` (predicted classes), an int, or one int per input. Defaults to `None`.
        region: The side of the square patches in pixels, an int >= 1. Defaults to `1`.
        steps: The number of steps. Defaults to `None` (one patch per step, at most 100
            steps).
        baseline: What flipped patches become (see `deletion`). Defaults to `0.0`.
        score: `"probability"` or `"logit"`. Defaults to `"probability"`.
        batch_size: The most images per compiled call. Defaults to `None`.
        **options: The method's options (with `attributions` a method).

    Returns:
        A `Curve` of kind `'pixel_flipping'` (`fractions`: the fraction of patches flipped).

    Raises:
        ValueError: For `region < 1`, `steps < 1`, and as `deletion`.
        TypeError: As `deletion`.

    Example:
        >>> curve = pixel_flipping(model, x, "gradient", y, region=2)
        >>> curve.aopc.mean()  # higher is better
    """
    return _curve("pixel_flipping", model, inputs, attributions, targets, steps, baseline, score,
                  batch_size, options, region=region)


def faithfulness_correlation(model, inputs, attributions, targets=None, *,
                             subset_size: int | None = None, samples: int = 100, baseline=0.0,
                             score: str = "logit", seed: int | None = 0,
                             batch_size: int | None = None, **options) -> np.ndarray:
    """Faithfulness correlation (Bhatt et al. 2020): attribution sums vs score drops.

    For each input, `samples` random subsets `S` of `subset_size` pixels are drawn (seeded; the
    same subsets for every method). The score is the Pearson correlation, over the subsets,
    between `sum_{i in S} phi_i` (pixel attributions: maps summed over channels) and
    `f(x) - f(x with S set to the baseline)`. Higher is better; 1 for a map whose subset sums
    predict the drops linearly. An input whose subset sums or drops do not vary (an all-zero
    map) gets 0.

    `score` defaults to `"logit"`: the maps explain the pre-softmax score, and the correlation
    asks for a linear relation (Quantus computes it on logits too).

    Paper: U. Bhatt, A. Weller, J. M. F. Moura, "Evaluating and Aggregating Feature-based Model
    Explanations", IJCAI 2020, https://arxiv.org/abs/2005.00631.

    Args:
        model: The Keras model (never modified).
        inputs: A batch of inputs (or one input).
        attributions: Precomputed maps or a method (see `deletion`).
        targets: `None` (predicted classes), an int, or one int per input. Defaults to `None`.
        subset_size: Pixels per subset, 1..P. Defaults to `None` (`max(1, P // 8)`).
        samples: Subsets per input, an int >= 2. Defaults to `100`.
        baseline: What the subset's pixels become (see `deletion`). Defaults to `0.0`.
        score: `"logit"` or `"probability"`. Defaults to `"logit"`.
        seed: Seed of the subsets. Defaults to `0`.
        batch_size: The most images per compiled call. Defaults to `None`.
        **options: The method's options (with `attributions` a method).

    Returns:
        `(N,)` correlations in [-1, 1].

    Raises:
        ValueError: For a bad `subset_size`, `samples < 2`, and as `deletion`.
        TypeError: As `deletion`.

    Example:
        >>> r = faithfulness_correlation(model, x, "gradient_x_input", y, samples=50)
    """
    samples = _common.check_int(samples, "samples", 2)
    seed = _common.check_seed(seed)
    x, t, layout = _common.prepare(model, inputs, targets, batch_size)
    _common.check_work(samples, len(x), x[0].size, "samples", samples)
    f = _common.score_function(model, score)
    maps = _common.maps_for(model, x, t, attributions, options, batch_size)
    pix = _common.pixel_maps(maps, x, layout).reshape(len(x), -1)
    base = _common.baselines(baseline, x, layout)
    P = pix.shape[1]
    size = max(1, P // 8) if subset_size is None else subset_size
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 1 <= size <= P:
        raise ValueError(f"`subset_size` must be an int in 1..{P} (the number of pixels), got "
                         f"{subset_size!r}.")
    rngs = _common.sample_rngs(seed, len(x))
    sums = np.empty((len(x), samples))

    def make(idx):
        out = []
        for i in idx:
            chosen = np.argsort(rngs[i].random((samples, P)), axis=1)[:, :size]
            masks = np.zeros((samples, P), dtype=bool)
            np.put_along_axis(masks, chosen, True, axis=1)
            sums[i] = (masks * pix[i]).sum(axis=1)
            m = _common.expand(masks.reshape((samples,) + layout.spatial), layout)
            out.append(np.where(m, base[i], x[i]))
        return np.concatenate(out)

    perturbed = _common.run_perturbed(f, make, t, samples, x[0].size, batch_size)
    drops = f(x, t, batch_size)[:, None] - perturbed
    return pearson_rows(sums, drops)


def pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of two `(N, K)` arrays; 0 where a row does not vary."""
    k = np.sqrt(a.shape[1])
    # a row that does not vary has deviations of rounding size only: relative tolerances
    tol_a, tol_b = 1e-10 * k * np.abs(a).max(axis=1), 1e-10 * k * np.abs(b).max(axis=1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    na, nb = np.sqrt((a * a).sum(axis=1)), np.sqrt((b * b).sum(axis=1))
    out = np.zeros(len(a))
    ok = (na > tol_a) & (nb > tol_b) & (na > 0) & (nb > 0)
    out[ok] = (a[ok] * b[ok]).sum(axis=1) / (na[ok] * nb[ok])
    return np.clip(out, -1.0, 1.0)
