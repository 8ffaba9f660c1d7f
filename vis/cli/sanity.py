"""`vis sanity`: model randomization sanity checks (Adebayo et al. 2018) of registered methods."""

from __future__ import annotations

import argparse
import os

from vis.cli._data import check_classifier, check_images, check_labels, load_data
from vis.cli._errors import user_input
from vis.cli._paths import check_no_overwrite, check_out_dir
from vis.cli._registry import load_methods, resolve

__all__ = ["run", "chosen_methods", "result_figures"]


def run(args: argparse.Namespace) -> int:
    """Runs `vis sanity`: per method, the curves and maps figures; a comparison; `summary.md`.

    Methods that learn from data (`Method.fit`, e.g. PatternNet) are fitted on each model they
    explain with the images of DATA (see `vis.sanity.explainers`).

    Args:
        args: The parsed arguments.

    Returns:
        The exit status, 0.

    Raises:
        UsageError: For every problem the user can fix (files, data, a method that cannot
            explain the model).
    """
    from vis.utils import io

    check_out_dir(args.out)
    user_input(io.check_model_file, args.model, option="MODEL")
    data = load_data(args.data, args.n)  # before importing TensorFlow: bad files fail fast

    chosen = chosen_methods(args)
    planned = [os.path.join(args.out, f"sanity_{m}_{kind}.png") for m in chosen
               for kind in ("curves", "maps")]
    planned += [os.path.join(args.out, name) for name in ("sanity_comparison.png", "summary.md")]
    check_no_overwrite(planned, [args.model, args.data])

    model = user_input(io.load_model, args.model, option="MODEL")
    check_classifier(model)
    x = check_images(data["x"], model, args.data)
    y = check_labels(data["y"], len(x), model, args.data)
    from vis.sanity import model_randomization_test

    lines = [f"# Sanity checks: {os.path.basename(args.model)} ({args.mode}, {len(x)} images)", ""]
    results = {}
    for name in chosen:
        result = results[name] = user_input(
            model_randomization_test, model, x, y, name, mode=args.mode, seed=args.seed,
            verbose=False, option=f"--method {name}",
        )
        os.makedirs(args.out, exist_ok=True)  # once the first method has run
        for suffix, fig in result_figures(result).items():
            path = os.path.join(args.out, f"sanity_{name}_{suffix}.png")
            fig.savefig(path, dpi=100, bbox_inches="tight")
            print(path)
        lines += [f"## {name}", "", "```", str(result.summary()), "```", ""]
        print(f"{name}:\n{result.summary()}")
    if len(results) > 1:
        from matplotlib.figure import Figure

        from vis.sanity import plot_comparison

        fig = Figure(figsize=(10, 3.4), layout="constrained")
        for ax, metric in zip(fig.subplots(1, 2), ("spearman", "ssim")):
            plot_comparison(results, metric=metric, ax=ax)
        path = os.path.join(args.out, "sanity_comparison.png")
        fig.savefig(path, dpi=100, bbox_inches="tight")
        print(path)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write("\n".join(lines))
    return 0


def chosen_methods(args: argparse.Namespace) -> list[str]:
    """The methods to check: every `--method` name once (first spelling kept), or the defaults.

    Names are validated against the registry (importing TensorFlow and the `--import` modules);
    two spellings of one method (`guided,guided_backprop`) count once.

    Args:
        args: The parsed arguments (`methods`: lists of names, or `None`).

    Returns:
        The names, in the order given; `vis.methods.SANITY_DEFAULTS` without `--method`.

    Raises:
        ArgumentError: `--method: <the registry's message>` for an unknown name.

    Example:
        >>> chosen_methods(build_parser().parse_args(["sanity", "m.keras", "d.npz"]))
        ['gradient', 'guided_backprop']
    """
    methods = load_methods(args)
    given = [m for group in args.methods for m in group] if args.methods else \
        list(methods.SANITY_DEFAULTS)
    chosen: dict[str, str] = {}
    for name in given:
        chosen.setdefault(resolve(methods, name, getattr(args, "parser", None)).name, name)
    return list(chosen.values())


def result_figures(result) -> dict:
    """The figures of a sanity `Result.plot()`, keyed `curves` / `maps`.

    Args:
        result: A `vis.sanity.Result`.

    Returns:
        A dict `suffix -> Figure`.
    """
    figs = result.plot()
    if isinstance(figs, dict):
        return figs
    if isinstance(figs, (tuple, list)):
        return {name: f for name, f in zip(("curves", "maps"), figs)}
    return {"curves": figs}
