"""The `vis` argument parser: every command's arguments, and the types that validate them.

Parsing never imports TensorFlow (`vis --help` is instant); method names are validated against
the registry by the commands, once the file arguments have been checked.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from vis.cli import demo, evaluate, methods, saliency, sanity
from vis.cli._paths import FILE_FORMATS
from vis.cli._specs import metric_specs

__all__ = ["build_parser", "command_name", "class_arg", "positive_int", "layer_arg",
           "method_list", "metric_specs"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors read `vis: error: ...` (one line, exit status 2)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"vis: error: {message}\n")


def command_name(module: ModuleType) -> str:
    """The command a module of `vis.cli` runs: a command is named after its module.

    Example:
        >>> command_name(vis.cli.sanity)
        'sanity'
    """
    return module.__name__.rpartition(".")[2]


def method_list(value: str) -> list[str]:
    """`--method a,b` of `vis sanity` (`--methods` of `vis evaluate`): one or more
    comma-separated names (checked later).

    Raises:
        argparse.ArgumentTypeError: If no name is given.
    """
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"expected method names separated by commas, got {value!r}"
        )
    return names


def class_arg(value: str):
    """`--class`: a non-negative unit index, or `top`.

    Raises:
        argparse.ArgumentTypeError: For anything else.
    """
    if value == "top":
        return value
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a class index (an integer) or 'top', got {value!r}"
        ) from None
    if k < 0:
        raise argparse.ArgumentTypeError(f"class index must be >= 0, got {k}")
    return k


def positive_int(value: str) -> int:
    """A positive integer option (`--n`).

    Raises:
        argparse.ArgumentTypeError: For anything else.
    """
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def layer_arg(value: str):
    """A layer: an index (an integer) or a name / nested path."""
    try:
        return int(value)
    except ValueError:
        return value


def build_parser() -> argparse.ArgumentParser:
    """Builds the `vis` argument parser (`demo`, `saliency`, `cam`, `sanity`, `evaluate`,
    `methods`).

    Returns:
        The `argparse.ArgumentParser`; each command's namespace has `run` (the function doing
        the work) and `parser` (the command's parser, for usage lines).

    Example:
        >>> args = build_parser().parse_args(["demo", "--fast"])
        >>> args.fast
        True
    """
    from vis import __version__

    parser = _Parser(
        prog="vis",
        description="Explain Keras 3 / TensorFlow 2 image models: saliency maps, Grad-CAM, "
        "PatternNet, LRP, parameter-space saliency, sanity checks and evaluation metrics.",
    )
    parser.add_argument("--version", action="version", version=f"vis {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="show the full traceback of unexpected errors (and TensorFlow's "
                        "start-up messages)")
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        metavar="MODULE",
                        help="import MODULE (a module name, or a .py file) before running the "
                        "command, e.g. one that registers methods with vis.methods.register; "
                        "can be repeated")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    _add_demo(sub)
    _add_explain(sub, command_name(saliency), "gradient-based saliency maps (or any method's)",
                 "any registered method name or alias, see `vis methods` (default: gradient)")
    _add_explain(sub, "cam", "class activation maps (Grad-CAM family, or any method's)",
                 "any registered method name or alias, see `vis methods` (default: gradcam)")
    _add_sanity(sub)
    _add_evaluate(sub)
    _add_methods(sub)
    return parser


def _add_demo(sub) -> None:
    p = sub.add_parser(
        command_name(demo), help="train a digits CNN and write figures of every method",
        description="Trains a small CNN on scikit-learn's bundled 8x8 digits (no download) and "
        "writes into DIR: every registered method on several digits, parameter-space saliency "
        "of a misclassified digit, sanity-check curves and maps, and summary.md with the "
        "numbers.",
    )
    p.add_argument("--out", default="demo_out", metavar="DIR",
                   help="output folder, created if needed (default: demo_out)")
    p.add_argument("--fast", action="store_true",
                   help="train less, use fewer images and cheaper metric settings (about "
                   "35 s instead of 55 s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(run=demo.run, parser=p)


def _add_explain(sub, name: str, what: str, method_help: str) -> None:
    """`vis saliency` and `vis cam`: the same arguments (`cam` adds `--penultimate-layer`)."""
    formats = ", ".join(FILE_FORMATS)
    p = sub.add_parser(
        name, help=f"{what} of a saved model on image files",
        description=f"Writes {what} of a saved Keras model (.keras, loaded with "
        "safe_mode=True) for image files, resized and scaled to the model's input. One "
        "figure per image: the image, the map and the overlay.",
    )
    p.add_argument("model", metavar="MODEL", help="a .keras model file")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files (PNG, JPEG, ...)")
    p.add_argument("--method", default=None, metavar="NAME", help=method_help)
    p.add_argument("--layer", type=layer_arg, default=None, metavar="L",
                   help="layer to explain: name, nested path (base/conv5) or index "
                   "(default: the model's output; required for models with several outputs)")
    if name == "cam":
        p.add_argument("--penultimate-layer", type=layer_arg, default=None, metavar="L",
                       help="conv layer whose feature maps are weighted (default: the last "
                       "spatial layer before --layer)")
    p.add_argument("--class", dest="klass", type=class_arg, default="top", metavar="K|top",
                   help="unit/class index, or 'top' for each image's largest output of the "
                   "layer (default: top)")
    p.add_argument("--scale", choices=("01", "255"), default="01",
                   help="pixel scaling the model expects: [0, 1] or [0, 255] (default: 01)")
    p.add_argument("--fit-data", default=None, metavar="DATA.npz",
                   help="an .npz file with an array x of preprocessed training images, on "
                   "which methods that learn from data (e.g. patternnet) are fitted")
    p.add_argument("--out", default=None, metavar="FILE_OR_DIR",
                   help=f"output file ({formats}; one image only) or folder "
                   "(default: vis_out/)")
    p.add_argument("--npy", action="store_true",
                   help="also write each map as a .npy array next to its figure")
    p.set_defaults(run=saliency.run, parser=p, penultimate_layer=None)


def _add_sanity(sub) -> None:
    p = sub.add_parser(
        command_name(sanity), help="model randomization sanity checks of saliency methods",
        description="Runs the cascading (or independent) model randomization test of Adebayo "
        "et al. (2018) on a saved model and data in an .npz file with arrays x (preprocessed "
        "images) and y (integer labels); writes the similarity curves and the map grid.",
    )
    p.add_argument("model", metavar="MODEL", help="a .keras model file")
    p.add_argument("data", metavar="DATA.npz", help="an .npz file with arrays x and y")
    p.add_argument("--method", dest="methods", type=method_list, action="append",
                   default=None, metavar="NAME[,NAME...]",
                   help="comma-separated method names or aliases (the option can be repeated); "
                   "`vis methods` lists them (default: vis.methods.SANITY_DEFAULTS, i.e. "
                   "gradient,guided_backprop)")
    p.add_argument("--mode", choices=("cascading", "independent"), default="cascading",
                   help="randomize layers cumulatively from the top, or one at a time "
                   "(default: cascading)")
    p.add_argument("--n", type=positive_int, default=16,
                   help="number of images used, the first N of DATA (default: 16)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--out", default="sanity_out", metavar="DIR",
                   help="output folder, created if needed (default: sanity_out)")
    p.set_defaults(run=sanity.run, parser=p)


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        command_name(evaluate), help="compare methods with faithfulness, robustness, "
        "complexity and randomization metrics",
        description="Evaluates attribution methods on a saved model and data in an .npz file "
        "with arrays x (preprocessed images) and y (integer labels), as vis.evaluate does: one "
        "row per method, one column per metric (the mean over the images), the random "
        "control for reference. Writes evaluation.md (the table, also printed), evaluation.png "
        "(curves and ranks) and evaluation.json (every number).",
    )
    p.add_argument("model", metavar="MODEL", help="a .keras model file")
    p.add_argument("data", metavar="DATA.npz", help="an .npz file with arrays x and y")
    p.add_argument("--methods", dest="methods", type=method_list, action="append",
                   default=None, metavar="NAME[,NAME...]",
                   help="comma-separated method names or aliases (the option can be "
                   "repeated); `vis methods` lists them (default: vis.evaluate's, every "
                   "gradient, CAM and propagation method and the random control)")
    p.add_argument("--metrics", dest="metrics", type=metric_specs, action="append",
                   default=None, metavar="NAME[:KEY=VALUE,...][,NAME...]",
                   help="comma-separated metric names, each with optional options, e.g. "
                   "deletion:steps=50,baseline=blur,sparseness (the option can be repeated; "
                   "values are ints, floats, true/false, none or text); default: "
                   "vis.evaluate's: deletion, insertion, pixel_flipping, "
                   "faithfulness_correlation, infidelity, max_sensitivity, avg_sensitivity, "
                   "sparseness, complexity, model_randomization")
    p.add_argument("--fit-data", default=None, metavar="DATA.npz",
                   help="an .npz file with an array x of preprocessed training images, on "
                   "which methods that learn from data (e.g. patternnet) are fitted (default: "
                   "the images of DATA)")
    p.add_argument("--n", type=positive_int, default=32,
                   help="number of images used, the first N of DATA (default: 32)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the metrics' noise and the methods' (default: 0)")
    p.add_argument("--out", default="evaluation_out", metavar="DIR",
                   help="output folder, created if needed (default: evaluation_out)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=evaluate.run, parser=p)


def _add_methods(sub) -> None:
    p = sub.add_parser(
        command_name(methods), help="list the registered attribution methods",
        description="Lists every registered attribution method (the built-in ones and those "
        "registered by --import modules): name, aliases, family, whether its maps are signed, "
        "and what the map is. Every name and alias works as --method of vis saliency, vis cam "
        "and vis sanity, and in --methods of vis evaluate.",
    )
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.set_defaults(run=methods.run, parser=p)
