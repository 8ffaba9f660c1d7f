"""`vis evaluate`: every method, every metric, one report (`vis.evaluate` on a saved model)."""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from vis.cli._data import check_classifier, check_images, check_labels, load_data
from vis.cli._errors import ArgumentError, user_input
from vis.cli._paths import check_no_overwrite, check_out_dir
from vis.cli._registry import load_methods, resolve
from vis.cli._specs import spec_text

__all__ = ["run", "chosen_methods", "chosen_metrics", "metric_option_names", "OUTPUTS",
           "MethodProgress"]

OUTPUTS = ("evaluation.md", "evaluation.png", "evaluation.json")
"""The files `vis evaluate` writes into `--out`."""


def run(args: argparse.Namespace) -> int:
    """Runs `vis evaluate`: the report's table (printed too), figure and numbers.

    Every method explains the first `--n` images of DATA for their label `y`; every metric
    scores the maps (`vis.evaluate`). Methods that learn from data (`Method.fit`, e.g.
    PatternNet) are fitted on `--fit-data`, or on the images of DATA without it. A method that
    cannot explain the model (e.g. Grad-CAM without a convolution) is reported as "n/a" with
    its reason under the table.

    Args:
        args: The parsed arguments.

    Returns:
        The exit status, 0.

    Raises:
        UsageError: For every problem the user can fix (files, data, unknown methods or
            metrics, metric options that a metric does not take or refuses).
    """
    from vis.utils import io

    check_out_dir(args.out)
    user_input(io.check_model_file, args.model, option="MODEL")
    data = load_data(args.data, args.n)  # before importing TensorFlow: bad files fail fast
    fit_x = None
    if args.fit_data is not None:
        fit_x = load_data(args.fit_data, None, ("x",), option="--fit-data")["x"]
    planned = [os.path.join(args.out, name) for name in OUTPUTS]
    check_no_overwrite(planned, [args.model, args.data, *([args.fit_data] if args.fit_data
                                                          else [])])

    methods = chosen_methods(args)
    metrics = chosen_metrics(args)
    model = user_input(io.load_model, args.model, option="MODEL")
    check_classifier(model, "vis evaluate")
    x = check_images(data["x"], model, args.data)
    y = check_labels(data["y"], len(x), model, args.data)
    if fit_x is not None:
        fit_x = check_images(fit_x, model, args.fit_data)

    import vis

    # A metric option's value is checked when the metric runs: its message names the option
    # (`steps`), which came from `--metrics NAME`.
    given: dict[str, list[str]] = {}
    for spec in metrics:
        for key in spec:
            if key != "name":
                given.setdefault(key, []).append(spec["name"])
    params = {"seed": "--seed", **{key: f"--metrics {names[0]}" if len(names) == 1
                                   else "--metrics" for key, names in given.items()}}
    progress = None if args.quiet else MethodProgress(len(methods), len(metrics))
    report = user_input(vis.evaluate, model, x, y, methods=methods, metrics=metrics,
                        seed=args.seed, fit_inputs=fit_x, progress=progress, params=params)

    os.makedirs(args.out, exist_ok=True)
    table = report.to_markdown()
    paths = dict(zip(OUTPUTS, planned))
    with open(paths["evaluation.md"], "w", encoding="utf-8") as f:
        f.write(table)
    fig = report.plot()
    fig.savefig(paths["evaluation.png"], dpi=100, bbox_inches="tight")
    with open(paths["evaluation.json"], "w", encoding="utf-8") as f:
        json.dump(_finite(report.to_dict()), f, indent=1, allow_nan=False)
        f.write("\n")
    print(table)
    for path in planned:
        print(path)
    return 0


def chosen_methods(args: argparse.Namespace) -> list[str]:
    """The methods to evaluate: every `--methods` name once (first spelling kept), or the
    defaults of `vis.evaluate` (every gradient, CAM and propagation method, and `random`).

    Args:
        args: The parsed arguments (`methods`: lists of names, or `None`).

    Returns:
        The names, in the order given.

    Raises:
        ArgumentError: `--methods: <the registry's message>` for an unknown name.

    Example:
        >>> chosen_methods(build_parser().parse_args(
        ...     ["evaluate", "m.keras", "d.npz", "--methods", "ig,gradient,integrated_gradients"]))
        ['ig', 'gradient']
    """
    methods = load_methods(args)
    if not args.methods:
        from vis._evaluate import default_methods

        return default_methods()
    chosen: dict[str, str] = {}
    for name in (m for group in args.methods for m in group):
        method = resolve(methods, name, getattr(args, "parser", None), option="--methods")
        chosen.setdefault(method.name, name)
    return list(chosen.values())


def chosen_metrics(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The metrics to compute, as `{"name": ..., **options}` specs checked against the registry.

    A metric given twice with the same options counts once; twice with different options is
    refused (the report has one column per metric).

    Args:
        args: The parsed arguments (`metrics`: lists of specs from `metric_specs`, or `None`).

    Returns:
        The specs, in order; `vis.evaluate`'s default metrics without `--metrics`.

    Raises:
        ArgumentError: `--metrics: <the registry's message>` for an unknown name,
            `--metrics NAME:...: ...` for an option the metric does not take or a metric that
            needs ground-truth masks (localization), or a metric given twice with different
            options.

    Example:
        >>> chosen_metrics(build_parser().parse_args(
        ...     ["evaluate", "m.keras", "d.npz", "--metrics", "deletion:steps=20,gini"]))
        [{'name': 'deletion', 'steps': 20}, {'name': 'sparseness'}]
    """
    from vis import metrics as registry
    from vis._evaluate import default_metrics

    parser = getattr(args, "parser", None)
    if not args.metrics:
        return [{"name": name} for name in default_metrics()]
    chosen: dict[str, dict[str, Any]] = {}
    for spec in (s for group in args.metrics for s in group):
        try:
            metric = registry.get(spec["name"])
        except (ValueError, TypeError) as err:
            raise ArgumentError(f"--metrics: {err}", parser) from None
        if metric.needs == "masks":
            raise ArgumentError(
                f"--metrics {spec['name']}: metric {metric.name!r} needs ground-truth masks, "
                "which the command line does not take; use vis.evaluate(..., masks=...)", parser)
        valid = metric_option_names(metric)
        unknown = [k for k in spec if k != "name" and k not in valid]
        if unknown:
            raise ArgumentError(
                f"--metrics {spec_text(spec)}: metric {metric.name!r} does not take the "
                f"option(s) {unknown}; its options are {valid}", parser)
        canonical = {**spec, "name": metric.name}
        earlier = chosen.setdefault(metric.name, canonical)
        if earlier != canonical:
            raise ArgumentError(
                f"--metrics: {metric.name!r} is given twice with different options "
                f"({spec_text(earlier)} and {spec_text(spec)}); the report has one column per "
                "metric", parser)
    return list(chosen.values())


def metric_option_names(metric) -> list[str]:
    """The keyword options a metric's function takes (what `--metrics NAME:KEY=VALUE` sets).

    Example:
        >>> metric_option_names(vis.metrics.get("deletion"))
        ['steps', 'baseline', 'score', 'batch_size']
    """
    try:
        params = inspect.signature(metric.fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind == inspect.Parameter.KEYWORD_ONLY]


class MethodProgress:
    """The `progress=` callback of `vis.evaluate`: one stderr line per method, when it is done.

    `[k/M] NAME: T s` (the seconds its maps and metrics took) or `[k/M] NAME: n/a`.

    Args:
        n_methods: The number of methods evaluated.
        n_metrics: The number of metrics per method.
        clock: The time source. Defaults to `time.perf_counter`.

    Example:
        >>> report = vis.evaluate(model, x, y, progress=MethodProgress(16, 10))
    """

    def __init__(self, n_methods: int, n_metrics: int,
                 clock: Callable[[], float] = time.perf_counter):
        self.n_methods, self.per, self.clock = n_methods, 1 + n_metrics, clock
        self.start = clock()

    def __call__(self, description: str, done: int, total: int) -> None:
        if done % self.per:
            return
        name, _, stage = description.partition(": ")
        now = self.clock()
        status = "n/a" if stage == "n/a" else f"{now - self.start:.1f} s"
        self.start = now
        print(f"[{done // self.per}/{self.n_methods}] {name}: {status}", file=sys.stderr,
              flush=True)


def _finite(value):
    """`value` with every NaN / inf float replaced by `None` (strict JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
