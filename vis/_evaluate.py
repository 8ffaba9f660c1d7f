"""`vis.evaluate`: every method, every metric, one report."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from vis import engine
from vis import methods as _methods
from vis import metrics as _metrics
from vis.errors import ZeroMapWarning
from vis.metrics import _common
from vis.metrics.curve import Curve
from vis.metrics.report import Report
from vis.utils import checks

__all__ = ["evaluate", "Report", "default_methods", "default_metrics", "DEFAULT_FAMILIES",
           "DEFAULT_METRICS", "CONTROL"]

# The method families evaluated by default, and the control every method is compared with.
DEFAULT_FAMILIES = tuple(f for f in _methods.FAMILIES
                         if f not in ("perturbation", "control", "custom"))
CONTROL = _methods.CONTROL
DEFAULT_METRICS = ("deletion", "insertion", "pixel_flipping", "faithfulness_correlation",
                   "infidelity", "max_sensitivity", "avg_sensitivity", "sparseness",
                   "complexity", "model_randomization")
LOCALIZATION = ("pointing_game", "relevance_mass")


def default_methods() -> list[str]:
    """Every registered method of the gradient, CAM and propagation families, then `random`.

    Example:
        >>> default_methods()[-1]
        'random'
    """
    names = [n for n in _methods.names() if _methods.get(n).family in DEFAULT_FAMILIES]
    return names + ([CONTROL] if CONTROL in _methods.REGISTRY else [])


def default_metrics(masks: bool = False) -> list[str]:
    """The metrics `vis.evaluate` runs by default (the localization ones only with masks).

    Example:
        >>> default_metrics()[:2]
        ['deletion', 'insertion']
    """
    return list(DEFAULT_METRICS) + (list(LOCALIZATION) if masks else [])


def evaluate(
    model,
    inputs,
    targets=None,
    methods: Sequence | None = None,
    metrics: Sequence | None = None,
    *,
    masks=None,
    seed: int | None = 0,
    method_options: dict[str, dict] | None = None,
    fit_inputs=None,
    batch_size: int | None = None,
    verbose: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    **options,
) -> Report:
    """Evaluates attribution methods with every metric, on one model and a batch or a dataset.

    Each method explains the inputs once (the maps are cached and shared by the metrics); the
    metrics that need the method (robustness, randomization) recompute maps on perturbed
    inputs or randomized models. Every input is explained for the same target (`targets`,
    resolved once). A method that cannot explain this model (a `ValueError`, e.g. a CAM method
    on a model without convolutions) is reported as "n/a" with its reason in `Report.errors`,
    instead of failing the evaluation; errors in the arguments or the metrics are raised.

    Methods that learn from data (PatternNet, PatternAttribution) are fitted on `fit_inputs`
    (defaults to `inputs`, as the sanity checks do), unless `method_options` gives their fitted
    options (e.g. `{"patternnet": {"patterns": p}}`).

    `inputs` may be a dataset (a `tf.data.Dataset` of inputs or `(inputs, labels)`, or any
    iterable of batches): it is evaluated batch by batch, each batch as it would be alone, and
    the per-input values and curves are concatenated, so memory stays that of one batch
    (`vis.streaming.evaluate_stream`; `targets=None` then takes the data's labels where it has
    them, and `masks` is one array for all inputs, in order).

    Args:
        model: The Keras model (never modified).
        inputs: A batch of inputs, or a dataset / iterable of batches (above).
        targets: `None` (each input's predicted class), an int, or one int per input.
            Defaults to `None`.
        methods: Method names, `vis.methods.Method`s or callables. Defaults to `None`
            (`default_methods()`: every gradient, CAM and propagation method, and `random`,
            the control).
        metrics: Metric names, `{"name": ..., **options}` dicts, `vis.metrics.Metric`s or
            callables (see `vis.metrics.names()`). Defaults to `None` (`default_metrics()`;
            with `masks`, the localization metrics too).
        masks: Boolean ground-truth masks for the localization metrics, one per input,
            shaped like the inputs or like their spatial axes. Defaults to `None`.
        seed: Seeds every metric that draws noise and every method that takes a `seed`
            (unless given in its options). Defaults to `0`.
        method_options: `{method: {option: value}}`, options of one method (e.g.
            `{"integrated_gradients": {"steps": 128}}`). Defaults to `None`.
        fit_inputs: The data methods with a `fit` are fitted on. Defaults to `None` (`inputs`).
        batch_size: The most samples per compiled call. Defaults to `None`.
        verbose: Show a progress bar. Defaults to `False`.
        progress: A callback `progress(description, done, total)` called after each method's
            maps and each metric (e.g. for a CLI). Defaults to `None`.
        **options: Options given to every method that takes them (e.g. `steps=64`; an option
            no method takes raises a `TypeError`).

    Returns:
        A `Report` (`scores`, `values`, `curves`, `ranking`, `to_markdown`, `plot`).

    Raises:
        ValueError: Bad inputs, targets, masks or seed; unknown or duplicate methods or
            metrics; localization metrics without `masks`.
        TypeError: Arguments of the wrong type, or options that no method takes.

    Example:
        >>> report = vis.evaluate(model, x_test[:32], y_test[:32],
        ...                       methods=["gradient", "integrated_gradients", "random"])
        >>> print(report.to_markdown())
        >>> report.ranking("deletion")
        ['integrated_gradients', 'gradient', 'random']
    """
    from vis import streaming

    if streaming.is_stream(inputs):
        return streaming.evaluate_stream(
            evaluate, model, inputs, targets, methods=methods, metrics=metrics, masks=masks,
            seed=seed, method_options=method_options, fit_inputs=fit_inputs,
            batch_size=batch_size, verbose=verbose, progress=progress, **options)
    seed = _common.check_seed(seed)
    batch_size = engine.check_batch_size(batch_size)
    verbose = checks.verbose(verbose)
    if progress is not None and not callable(progress):
        raise TypeError(f"`progress` must be None or a callable (description, done, total), "
                        f"got {type(progress).__name__}.")
    x, t, layout = _common.prepare(model, inputs, targets, batch_size)
    chosen = _resolve_methods(default_methods() if methods is None else methods)
    metric_list = _resolve_metrics(default_metrics(masks is not None) if metrics is None
                                   else metrics)
    pixel_masks = _pixel_masks(masks, x, layout, metric_list)
    per_method = _method_options(chosen, options, method_options, seed)
    fit_x = x if fit_inputs is None else engine.prepare_input(model, fit_inputs, "fit_inputs")[0]

    total, done = len(chosen) * (1 + len(metric_list)), 0
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="evaluate", leave=False)

    def step(description: str) -> None:
        nonlocal done
        done += 1
        if bar is not None:
            bar.set_description(description)
            bar.update(1)
        if progress is not None:
            checks.call(progress, "progress", description, done, total)

    values, curves, errors = {}, {}, {}
    try:
        for name, method in chosen.items():
            opts = dict(per_method[name])
            try:
                if method.fit is not None and any(opts.get(k) is None for k in method.requires):
                    opts.update(method.fit(model, fit_x, batch_size=batch_size))
                maps = _common.maps_for(model, x, t, method, opts, batch_size)
            except ValueError as exc:
                errors[name] = str(exc).splitlines()[0]
                done += len(metric_list)
                step(f"{name}: n/a")
                continue
            step(f"{name}: maps")
            values[name], curves[name] = {}, {}
            context = _Context(model, x, t, layout, maps, pixel_masks, method, opts, seed,
                               batch_size)
            for metric in metric_list:
                with warnings.catch_warnings():  # the maps' stage has warned already
                    warnings.simplefilter("ignore", ZeroMapWarning)
                    result = context.run(metric)
                if isinstance(result, Curve):
                    curves[name][metric.name] = result
                values[name][metric.name] = _check_values(metric, result, len(x))
                step(f"{name}: {metric.name}")
    finally:
        if bar is not None:
            bar.close()
    return Report(
        methods=list(chosen), metrics=[m.name for m in metric_list], values=values,
        curves=curves, higher_is_better={m.name: m.higher_is_better for m in metric_list},
        errors=errors, n=len(x), seed=seed, control=CONTROL if CONTROL in chosen else None,
        descriptions={m.name: m.description for m in metric_list},
    )


@dataclasses.dataclass
class _Context:
    """One method's maps and everything a metric may need, and how to call each kind."""

    model: object
    x: np.ndarray
    t: np.ndarray
    layout: _common.Layout
    maps: np.ndarray
    masks: np.ndarray | None
    method: _methods.Method
    options: dict
    seed: int | None
    batch_size: int | None

    def run(self, metric: _metrics.Metric):
        extra = {k: v for k, v in (("seed", self.seed), ("batch_size", self.batch_size))
                 if k not in metric.options and metric.accepts(k, explicit=True)
                 and not (k == "batch_size" and v is None)}
        if metric.needs in ("maps", "masks"):
            pix = _common.pixel_maps(self.maps, self.x, self.layout)
            if metric.needs == "maps":
                return metric(pix)
            return metric(pix, self.masks)
        if metric.needs == "model":
            return metric(self.model, self.x, self.maps, self.t, **extra)
        # 'method': the options are bound into the method (so that a method's `seed` is not
        # the metric's); fitted options stay apart, to be fitted again on a changed model.
        fitted = set(self.method.requires) if self.method.fit is not None else set()
        bound = _common.bind_method(
            self.method, **{k: v for k, v in self.options.items() if k not in fitted})
        return metric(self.model, self.x, self.t, bound, **extra,
                      **{k: v for k, v in self.options.items() if k in fitted})


def _check_values(metric, result, n: int) -> np.ndarray:
    values = metric.values(result)
    if values.shape != (n,):
        raise ValueError(f"Metric {metric.name!r} returned {values.shape} values for {n} inputs.")
    return values


def _resolve_methods(items) -> dict[str, _methods.Method]:
    if isinstance(items, (str, _methods.Method)) or callable(items):
        items = [items]
    out: dict[str, _methods.Method] = {}
    for item in items:
        method = _methods.get(item)
        if method.name in out:
            raise ValueError(f"`methods` names {method.name!r} twice.")
        out[method.name] = method
    if not out:
        raise ValueError("`methods` is empty.")
    return out


def _resolve_metrics(items) -> list[_metrics.Metric]:
    if isinstance(items, (str, dict, _metrics.Metric)) or callable(items):
        items = [items]
    out = [_metrics.get(item) for item in items]
    for m in out:
        bad = [k for k in m.options if not m.accepts(k, explicit=True)]
        if bad:
            raise TypeError(f"Metric {m.name!r} does not take the option(s) {bad}; the methods' "
                            "options go in `method_options=` or as keywords of evaluate.")
    names = [m.name for m in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"`metrics` names {twice} more than once.")
    if not out:
        raise ValueError("`metrics` is empty.")
    return out


def _pixel_masks(masks, x, layout, metric_list) -> np.ndarray | None:
    needs = [m.name for m in metric_list if m.needs == "masks"]
    if masks is None:
        if needs:
            raise ValueError(f"The metric(s) {needs} need ground-truth `masks`.")
        return None
    m = np.asarray(masks)
    if m.dtype != bool:
        if not np.issubdtype(m.dtype, np.number) or not np.all((m == 0) | (m == 1)):
            raise ValueError("`masks` must be boolean (or hold only 0 and 1).")
        m = m.astype(bool)
    if m.shape == x.shape and layout.channel_axis is not None:
        m = m.any(axis=layout.channel_axis)
    if m.shape != (len(x),) + layout.spatial:
        raise ValueError(f"`masks` has shape {np.shape(masks)}; expected the inputs' shape "
                         f"{x.shape} or their spatial shape {(len(x),) + layout.spatial}.")
    return m


def _method_options(chosen, options, method_options, seed) -> dict[str, dict]:
    per = {name: {} for name in chosen}
    for key in options:
        takers = [n for n, m in chosen.items() if m.accepts(key)]
        if not takers:
            raise TypeError(f"No evaluated method takes the option `{key}`.")
        for n in takers:
            per[n][key] = options[key]
    if method_options is not None:
        if not isinstance(method_options, dict):
            raise TypeError(f"`method_options` must be a dict {{method: {{option: value}}}}, "
                            f"got {type(method_options).__name__}.")
        for key, opts in method_options.items():
            name = _methods.get(key).name
            if name not in chosen:
                raise ValueError(f"`method_options` names {key!r}, which is not evaluated "
                                 f"({list(chosen)}).")
            if not isinstance(opts, dict):
                raise TypeError(f"`method_options[{key!r}]` must be a dict, got "
                                f"{type(opts).__name__}.")
            per[name].update(opts)
    for name, method in chosen.items():
        if method.accepts("seed") and "seed" not in per[name] and "seed" in method.options():
            per[name]["seed"] = seed
    return per
