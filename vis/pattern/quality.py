"""`signal_quality`: the paper's criterion rho(S) for signal estimators, per layer.

Kindermans et al. 2018 (https://arxiv.org/abs/1705.05598), section 4: a signal estimator `S` splits
an input into signal `S(x)` and distractor `d = x - S(x)`; a good estimator leaves no information
about the output `y = w^T x` in the distractor:

    rho(S) = 1 - max_v corr(w^T x, v^T (x - S(x))).

The maximum over `v` is the multiple correlation of `y` with `d`: `v` is the least-squares
regression of `y` on `d` (with intercept), so
`max corr = sqrt(cov(d, y)^T cov(d, d)^+ cov(d, y) / var(y))`, computed per neuron (with a
pseudo-inverse: `w^T d = 0` by construction, so `cov(d, d)` is singular) from streamed float64
moments, and averaged over the layer's neurons (neurons whose `y` has zero variance on the data are
left out). `S_w(x) = w y / (w^T w)`, `S_a(x) = a y`, and for the two-component estimator
`S(x) = a+ y` where the neuron's output is positive and `a- y` otherwise (the regimes of
`fit_patterns`, where a softmax layer's regime is its pre-softmax value `> 0`). In-sample, `S_a`
scores exactly 1 (`cov(d, y) = 0` by construction), which is why the patterns are fitted on the
first part of `data` and `rho` is evaluated on the held-out rest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np

from vis.pattern import _layers
from vis.pattern._data import as_dataset, limit_steps, split
from vis.pattern._stream import streamer_for
from vis.pattern.estimators import get_estimator
from vis.pattern.fit import fit_patterns
from vis.pattern.patterns import Patterns
from vis.utils import checks

__all__ = ["signal_quality"]

_RCOND = 1e-10


def _eval_sums(model, data, layers, two_component, batch_size, verbose):
    dataset, n_batches = as_dataset(model, data, batch_size, rebatch=True)
    paths = [p for p, _ in layers]
    sources = _layers.mask_sources(model)
    inputs, outputs, pre = set(paths), set(paths), set()
    if two_component:  # the regimes of fit_patterns (pre-softmax values for softmax layers)
        more = _layers.taps(sources, paths)
        inputs, outputs, pre = inputs | more[0], outputs | more[1], more[2]
    streamer = streamer_for(model, inputs, outputs, pre)

    ops = keras.ops

    def rows(rec, path):
        layer = streamer.layers[path]
        x = ops.cast(_layers.patches(layer, rec[(path, "in")]), "float64")
        kernel = ops.cast(_layers.value(layer.kernel), "float64")
        y = ops.matmul(x, ops.reshape(kernel, (-1, kernel.shape[-1])))
        if two_component:
            src = ops.reshape(rec[sources[path]], ops.shape(rec[(path, "out")]))
            m = ops.cast(_layers.to_rows(layer, src) > 0, "float64")
        else:
            m = ops.ones_like(y)
        return x, y * m, y * (1 - m)

    def shift_fn(rec, extra):
        return {p: ops.mean(rows(rec, p)[0], 0) for p in paths}

    def batch_fn(rec, shifts):
        out = {}
        for path in paths:
            x, u, v = rows(rec, path)
            xc = x - ops.cast(shifts[path], "float64")
            xt = ops.transpose(xc)
            out[path] = {
                "n": ops.cast(ops.shape(xc)[0], "float64"),
                "sx": ops.sum(xc, 0),
                "sxx": ops.matmul(xt, xc),
                "su": ops.sum(u, 0), "sv": ops.sum(v, 0),
                "suu": ops.sum(u * u, 0), "svv": ops.sum(v * v, 0),
                "sxu": ops.matmul(xt, u), "sxv": ops.matmul(xt, v),
            }
        return out

    key = f"quality:{two_component}"
    shifts = streamer.first_batch(dataset, shift_fn, "shift:" + key)
    return streamer.run(dataset, n_batches, batch_fn, key, shifts, verbose, "signal_quality")


_PATCH_BYTES = 256 * 2 ** 20


def _select(kernel_layers, names):
    if names is None:
        return kernel_layers
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"`layers` must be a list of layer paths, got {names!r}.")
    known = dict(kernel_layers)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(
            f"`layers` {list(names)!r}: {unknown or 'empty'}; valid: {list(known)}."
        )
    return [(n, known[n]) for n in names]


def _capped_batch_size(layers, batch_size) -> int:
    """`batch_size`, lowered so that one batch's float64 patches stay under 256 MB."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int, got {batch_size!r}.")
    per_sample = 1
    for _, layer in layers:
        out = [d or 1 for d in layer.output.shape[1:]]
        positions = math.prod(out) // out[_layers.channel_axis_of(layer)]
        per_sample = max(per_sample, 8 * positions * _layers.kernel_2d(layer).shape[0])
    return int(max(1, min(batch_size, _PATCH_BYTES // per_sample)))


def _layer_rho(s: dict, a_pos: np.ndarray, a_neg: np.ndarray) -> float:
    n = s["n"]
    mx = s["sx"] / n
    cxx = s["sxx"] / n - np.outer(mx, mx)
    mu, mv = s["su"] / n, s["sv"] / n
    cxu = s["sxu"] / n - np.outer(mx, mu)
    cxv = s["sxv"] / n - np.outer(mx, mv)
    var_u, var_v = s["suu"] / n - mu ** 2, s["svv"] / n - mv ** 2
    cov_uv = -mu * mv  # u * v = 0 sample-wise
    var_y = var_u + var_v + 2 * cov_uv
    mean_sq = var_y + (mu + mv) ** 2
    rhos = []
    for j in range(a_pos.shape[1]):
        if not (mean_sq[j] > 0 and var_y[j] > 1e-12 * mean_sq[j]):
            continue
        ap, an = a_pos[:, j], a_neg[:, j]
        c = (cxu[:, j] + cxv[:, j]) - ap * (var_u[j] + cov_uv[j]) - an * (var_v[j] + cov_uv[j])
        cdd = (cxx - np.outer(cxu[:, j], ap) - np.outer(ap, cxu[:, j])
               - np.outer(cxv[:, j], an) - np.outer(an, cxv[:, j])
               + var_u[j] * np.outer(ap, ap) + var_v[j] * np.outer(an, an)
               + cov_uv[j] * (np.outer(ap, an) + np.outer(an, ap)))
        v = np.linalg.pinv(cdd, rcond=_RCOND, hermitian=True) @ c
        r2 = float(np.clip(c @ v / var_y[j], 0.0, 1.0))
        rhos.append(1.0 - np.sqrt(r2))
    return float(np.mean(rhos)) if rhos else float("nan")


def signal_quality(
    model: keras.Model,
    data,
    estimator: str | None = None,
    patterns: Patterns | None = None,
    holdout: float = 0.5,
    batch_size: int = 256,
    verbose: bool = True,
    layers: Sequence[str] | None = None,
    steps: int | None = None,
) -> dict[str, float]:
    """The signal-estimator quality rho(S) of every Dense/Conv layer (Kindermans et al. 2018).

    `rho(S) = 1 - max_v corr(w^T x, v^T (x - S(x)))` per neuron, `v` by least squares with
    intercept, averaged over the layer's neurons; 1 is best (the distractor holds nothing about the
    output), 0 worst. With `estimator`, the patterns are fitted on the first `1 - holdout` of
    `data` and rho is evaluated on the rest; with `patterns`, all of `data` is used for evaluation
    (it should be data the patterns were not fitted on). Conv layers use every input patch. All
    sums are float64 (patterns fitted here use `fit_patterns(..., dtype='float64')`). The least
    squares has as many regressors as inputs per neuron: use many more held-out samples (patches)
    than that, or rho is biased low by over-fitting.

    The fitting and held-out parts of a dataset are read in two separate passes (`take` /
    `skip`): a dataset that reshuffles on every pass (`shuffle(...)` with the default
    `reshuffle_each_iteration=True`) mixes fitted samples into the held-out part and biases rho
    upwards (towards the in-sample 1 of `S_a`). This cannot be detected through tf.data's public
    API: shuffle with `reshuffle_each_iteration=False` (or not at all), pass arrays, or fit the
    patterns yourself and pass `patterns=` with separate evaluation data.

    Args:
        model: A Keras model, Sequential or Functional (never modified).
        data: An array, or (TensorFlow backend) a `tf.data.Dataset` (of inputs or `(inputs,
            labels)`; with `holdout > 0` a dataset needs a known cardinality, and an order that
            does not change between passes, and is split by elements).
        estimator: `'filter'`, `'linear'` or `'two_component'` / `'relu'`. Defaults to `None`
            (give `estimator` or `patterns`).
        patterns: Fitted `Patterns` to evaluate instead (two-component patterns need their
            negative-regime patterns: `fit_patterns(..., negative=True)`). Defaults to `None`.
        holdout: Fraction of `data` held out for evaluation when `estimator` is given; `0`
            evaluates in-sample. Defaults to `0.5`.
        batch_size: Batch size for arrays and unbatched datasets; lowered automatically so
            that a batch's float64 patch matrix stays under 256 MB. Defaults to `256`.
        verbose: Show progress bars. Defaults to `True`.
        layers: Evaluate only these layer paths (the cost per layer grows with the square of
            its inputs per neuron, `D`: one `D x D` pseudo-inverse per neuron). Defaults to `None`
            (every Dense/Conv layer).
        steps: Use only the first `steps` batches of `data` (elements of a batched dataset,
            `batch_size` samples otherwise), before the hold-out split; required for an infinite
            dataset. Defaults to `None` (all of `data`).

    Returns:
        `{layer path: rho}` (NaN for a layer whose neurons all have constant outputs).

    Raises:
        ValueError: Neither or both of `estimator` and `patterns`, a bad `holdout`, patterns of
            another model, an infinite dataset without `steps`, or the errors of `fit_patterns`.
        TypeError: `patterns` that is not a `Patterns`, or a subclassed model.

    Example:
        >>> rho = {est: signal_quality(model, x_train, estimator=est, verbose=False)
        ...        for est in ("filter", "linear", "two_component")}
        >>> rho["two_component"]["dense"] > rho["filter"]["dense"]
        True
    """
    if (estimator is None) == (patterns is None):
        raise ValueError("Give exactly one of `estimator` (fit on `data`) and `patterns`.")
    verbose = checks.verbose(verbose)
    _layers.check_model(model)
    layers = _select(_layers.kernel_layers(model), layers)
    data = limit_steps(model, data, steps, batch_size)
    batch_size = _capped_batch_size(layers, batch_size)
    if patterns is None:
        estimator = get_estimator(estimator)
        fit_data, eval_data = split(data, holdout)
        patterns = fit_patterns(model, fit_data, estimator, batch_size=batch_size, verbose=verbose,
                                dtype="float64", negative=True)
    else:
        if not isinstance(patterns, Patterns):
            raise TypeError(f"`patterns` must be a vis.pattern.Patterns, got {type(patterns).__name__}.")
        estimator, eval_data = patterns.estimator, data
    two_component = estimator == "two_component"
    if two_component and patterns.negative is None:
        raise ValueError(
            "Two-component `patterns` need their negative-regime patterns: fit them with "
            "fit_patterns(..., negative=True)."
        )
    for path, layer in layers:
        if path not in patterns or patterns[path].shape != tuple(layer.kernel.shape):
            raise ValueError(f"`patterns` has no pattern of the kernel's shape for layer {path!r}.")
    sums = _eval_sums(model, eval_data, layers, two_component, batch_size, verbose)
    result = {}
    for path, layer in layers:
        units = layer.kernel.shape[-1]
        a_pos = patterns[path].reshape(-1, units)
        a_neg = patterns.negative[path].reshape(-1, units) if two_component else a_pos
        result[path] = _layer_rho(sums[path], a_pos, a_neg)
    return result
