"""The `vis` command: `vis demo`, `vis saliency`, `vis cam`, `vis sanity`.

Errors a user can act on (a missing file, an image that cannot be decoded, an unknown layer or
method, a class out of range...) print one line `vis: error: ...` and exit with status 2, without
a traceback. An unexpected failure inside a method exits with status 1 and one line; `vis
--traceback COMMAND ...` shows the full traceback. TensorFlow is imported only by the commands
that need it, so `vis --help` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

__all__ = ["main", "build_parser", "SALIENCY_METHODS", "CAM_METHODS", "SANITY_METHODS",
           "UsageError"]

SALIENCY_METHODS = ("gradient", "guided", "deconvnet", "smoothgrad", "integrated_gradients",
                    "gradient_x_input")
CAM_METHODS = ("gradcam", "gradcam++", "guided_gradcam")
SANITY_METHODS = ("gradient", "guided_backprop", "deconvnet", "smoothgrad",
                  "integrated_gradients", "gradient_x_input", "gradcam", "guided_gradcam",
                  "patternnet", "patternattribution", "lrp")


class UsageError(Exception):
    """A problem with the user's arguments or files: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors read `vis: error: ...` (one line, exit status 2)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"vis: error: {message}\n")


def _choice(valid: Sequence[str], what: str):
    """An argparse type that lists the valid values in its error."""

    def parse(value: str) -> str:
        if value not in valid:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {value!r}; valid: {', '.join(valid)}"
            )
        return value

    parse.__name__ = what
    return parse


def _class_arg(value: str):
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


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _layer_arg(value: str):
    try:
        return int(value)
    except ValueError:
        return value


def build_parser() -> argparse.ArgumentParser:
    """Builds the `vis` argument parser (subcommands `demo`, `saliency`, `cam`, `sanity`).

    Returns:
        The `argparse.ArgumentParser`.

    Example:
        >>> args = build_parser().parse_args(["demo", "--fast"])
        >>> args.fast
        True
    """
    from vis import __version__

    parser = _Parser(
        prog="vis",
        description="Explain Keras 3 / TensorFlow 2 image models: saliency maps, Grad-CAM, "
        "PatternNet, LRP, parameter-space saliency and sanity checks.",
    )
    parser.add_argument("--version", action="version", version=f"vis {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="show the full traceback of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    demo = sub.add_parser(
        "demo", help="train a digits CNN and write figures of every method",
        description="Trains a small CNN on scikit-learn's bundled 8x8 digits (no download) and "
        "writes into DIR: every saliency method on several digits, parameter-space saliency of a "
        "misclassified digit, sanity-check curves and maps, and summary.md with the numbers.",
    )
    demo.add_argument("--out", default="demo_out", metavar="DIR",
                      help="output folder (default: demo_out)")
    demo.add_argument("--fast", action="store_true",
                      help="train less and use fewer images (about 25 s instead of 40 s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    demo.set_defaults(func=_cmd_demo)

    for name, methods, default, what in (
        ("saliency", SALIENCY_METHODS, "gradient", "gradient-based saliency maps"),
        ("cam", CAM_METHODS, "gradcam", "class activation maps (Grad-CAM family)"),
    ):
        p = sub.add_parser(
            name, help=f"{what} of a saved model on image files",
            description=f"Writes {what} of a saved Keras model (.keras, loaded with "
            "safe_mode=True) for image files, resized and scaled to the model's input. One PNG "
            "per image: the image, the map and the overlay.",
        )
        p.add_argument("model", metavar="MODEL", help="a .keras model file")
        p.add_argument("images", metavar="IMAGE", nargs="+", help="image files (PNG, JPEG, ...)")
        p.add_argument("--method", type=_choice(methods, "method"), default=default,
                       help=f"one of: {', '.join(methods)} (default: {default})")
        p.add_argument("--layer", type=_layer_arg, default=-1, metavar="L",
                       help="layer to explain: name, nested path or index (default: -1, the output)")
        if name == "cam":
            p.add_argument("--penultimate-layer", type=_layer_arg, default=None, metavar="L",
                           help="conv layer whose feature maps are weighted (default: the last "
                           "spatial layer before --layer)")
        p.add_argument("--class", dest="klass", type=_class_arg, default="top", metavar="K|top",
                       help="unit/class index, or 'top' for each image's top prediction "
                       "(default: top)")
        p.add_argument("--scale", choices=("01", "255"), default="01",
                       help="pixel scaling the model expects: [0, 1] or [0, 255] (default: 01)")
        p.add_argument("--out", default=None, metavar="FILE_OR_DIR",
                       help="output .png (one image) or folder (default: vis_out/)")
        p.add_argument("--npy", action="store_true",
                       help="also write each map as a .npy array next to its PNG")
        p.set_defaults(func=_cmd_explain, kind=name)

    san = sub.add_parser(
        "sanity", help="model randomization sanity checks of saliency methods",
        description="Runs the cascading (or independent) model randomization test of Adebayo "
        "et al. (2018) on a saved model and data in an .npz file with arrays x (preprocessed "
        "images) and y (integer labels); writes the similarity curves and the map grid.",
    )
    san.add_argument("model", metavar="MODEL", help="a .keras model file")
    san.add_argument("data", metavar="DATA.npz", help="an .npz file with arrays x and y")
    san.add_argument("--method", type=_choice(SANITY_METHODS, "method"), nargs="+",
                     default=["gradient", "guided_backprop"],
                     help=f"one or more of: {', '.join(SANITY_METHODS)} "
                     "(default: gradient guided_backprop)")
    san.add_argument("--mode", choices=("cascading", "independent"), default="cascading",
                     help="randomize layers cumulatively from the top, or one at a time "
                     "(default: cascading)")
    san.add_argument("--n", type=_positive_int, default=16,
                     help="number of images used (default: 16)")
    san.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    san.add_argument("--out", default="sanity_out", metavar="DIR",
                     help="output folder (default: sanity_out)")
    san.set_defaults(func=_cmd_sanity)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `vis` command line.

    Args:
        argv: The arguments (without the program name). Defaults to `None` (`sys.argv[1:]`).

    Returns:
        The exit status: 0 on success, 2 for a usage or input error, 1 for an unexpected error.

    Example:
        >>> main(["demo", "--fast", "--out", "demo_out"])  # doctest: +SKIP
        0
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MPLBACKEND", "Agg")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = args.func(args)
        _report_warnings(caught)
        return status
    except UsageError as err:
        return _fail(str(err), 2)
    except FileNotFoundError as err:
        return _fail(str(err), 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as err:
        if args.traceback:
            raise
        return _fail(f"{type(err).__name__}: {err} (run `vis --traceback ...` for details)", 1)


def _fail(message: str, status: int) -> int:
    one_line = " ".join(str(message).split())
    print(f"vis: error: {one_line}", file=sys.stderr)
    return status


def _report_warnings(caught) -> None:
    package = os.path.dirname(os.path.abspath(__file__))
    seen = set()
    for w in caught:
        if not os.path.abspath(w.filename).startswith(package):
            continue
        text = " ".join(str(w.message).split())
        if text not in seen:
            seen.add(text)
            print(f"vis: warning: {text}", file=sys.stderr)


# --- demo ----------------------------------------------------------------------------------------


def _cmd_demo(args) -> int:
    from vis.demo import run_demo

    run_demo(args.out, fast=args.fast, seed=args.seed, verbose=not args.quiet)
    return 0


# --- saliency / cam ------------------------------------------------------------------------------


_OPTION_NAMES = {"`penultimate_layer_idx`": "--penultimate-layer", "`layer_idx`": "--layer",
                 "`filter_indices`": "--class", "`seed_input`": "IMAGE"}


def _user_input(fn, *a, **kw):
    """Calls `fn`, turning `ValueError`/`TypeError` about the user's input into a `UsageError`.

    Python parameter names in the message are replaced by the matching command-line options.
    """
    try:
        return fn(*a, **kw)
    except (ValueError, TypeError) as err:
        message = str(err)
        for name, option in _OPTION_NAMES.items():
            message = message.replace(name, option)
        raise UsageError(message) from None


def _load_model(path: str):
    from vis.utils import io

    return _user_input(io.load_model, path)


def _resolve_layer(model, layer, what: str = "--layer"):
    from vis.utils.model import resolve_layer

    try:
        return resolve_layer(model, layer, param=what.lstrip("-").replace("-", "_"))
    except (ValueError, TypeError):
        from vis.utils.model import iter_layers

        names = [path for path, _ in iter_layers(model)]
        raise UsageError(
            f"{what} {layer!r}: no such layer; valid names: {', '.join(names)} "
            f"(or an index -{len(model.layers)}..{len(model.layers) - 1})"
        ) from None


def _units(layer) -> int:
    from vis.utils.model import channel_axis

    shape = tuple(layer.output.shape)
    return int(shape[channel_axis(layer)] if len(shape) > 2 else shape[-1])


def _target_classes(model, layer_path: str, layer, x, klass) -> tuple:
    """The explained unit per image, and the layer's output (probabilities) for the titles."""
    import keras
    import numpy as np

    units = _units(layer)
    if klass != "top" and klass >= units:
        raise UsageError(
            f"--class {klass} is out of range: layer {layer_path!r} has {units} units "
            f"(valid: 0..{units - 1} or 'top')"
        )
    if layer is model.layers[-1]:
        out = model.predict(x, verbose=0)
    else:
        try:
            out = keras.Model(model.inputs, layer.output).predict(x, verbose=0)
        except Exception:
            if klass == "top":
                raise UsageError(
                    f"--class top cannot read the output of layer {layer_path!r}; give --class K"
                ) from None
            out = None
    if out is not None and out.ndim > 2:  # conv layer: mean activation per filter
        from vis.utils.model import channel_axis

        caxis = channel_axis(layer) % out.ndim
        out = out.mean(axis=tuple(a for a in range(1, out.ndim) if a != caxis))
    classes = np.argmax(out, axis=-1) if klass == "top" else np.full(len(x), klass)
    return classes.astype("int64"), out


def _explain(kind: str, method: str, model, layer, x, classes, penultimate=None):
    from vis.losses import per_sample

    idx = per_sample(classes)
    if kind == "cam":
        from vis.visualization import visualize_cam

        return visualize_cam(
            model, layer, idx, x, penultimate_layer_idx=penultimate,
            guided=method == "guided_gradcam",
            method="gradcam++" if method == "gradcam++" else "gradcam",
        )
    import vis.visualization as vv

    common = dict(grad_modifier="absolute")
    if method in ("gradient", "guided", "deconvnet"):
        modifier = {"gradient": None, "guided": "guided", "deconvnet": "relu"}[method]
        return vv.visualize_saliency(model, layer, idx, x, backprop_modifier=modifier, **common)
    if method == "smoothgrad":
        return vv.visualize_smoothgrad(model, layer, idx, x, seed=0, **common)
    if method == "integrated_gradients":
        return vv.visualize_integrated_gradients(model, layer, idx, x, **common)
    return vv.visualize_gradient_x_input(model, layer, idx, x, **common)


def _output_paths(images: Sequence[str], out: str | None, method: str) -> list[str]:
    if out is not None and out.lower().endswith(".png"):
        if len(images) != 1:
            raise UsageError(
                f"--out {out!r} is a single .png file but {len(images)} images were given; "
                "give a folder instead"
            )
        return [out]
    folder = out or "vis_out"
    if os.path.isfile(folder):
        raise UsageError(f"--out {folder!r} is an existing file; give a folder or a .png path")
    tag = method.replace("++", "pp")
    stems = [os.path.splitext(os.path.basename(p))[0] for p in images]
    names = [f"{s}_{tag}.png" for s in stems]
    if len(set(names)) != len(names):
        names = [f"{i:03d}_{s}_{tag}.png" for i, s in enumerate(stems)]
    return [os.path.join(folder, n) for n in names]


def _cmd_explain(args) -> int:
    import numpy as np

    from vis.utils import io

    outputs = _output_paths(args.images, args.out, args.method)
    if not os.path.exists(args.model):
        raise UsageError(f"model file not found: {args.model!r}")
    # Decode every image before importing TensorFlow: bad files fail in a fraction of a second.
    images = [_user_input(io.read_image, path) for path in args.images]
    model = _load_model(args.model)
    layout = _user_input(io.image_layout, model)
    x = _user_input(io.load_images, images, layout, scale=args.scale)
    layer_path, layer = _resolve_layer(model, args.layer)
    penultimate = None
    if getattr(args, "penultimate_layer", None) is not None:
        penultimate, _ = _resolve_layer(model, args.penultimate_layer, "--penultimate-layer")
    classes, scores = _target_classes(model, layer_path, layer, x, args.klass)
    # The methods raise ValueError/TypeError for inputs they cannot explain (e.g. Grad-CAM of a
    # model without convolutions): those are the user's to fix, reported like the others.
    maps = _user_input(_explain, args.kind, args.method, model, layer_path, x, classes,
                       penultimate)
    maps = np.asarray(maps)
    display = np.moveaxis(x, 1, -1) if layout.channels_first else x
    for i, out in enumerate(outputs):
        score = None if scores is None else float(scores[i, classes[i]])
        title = f"{args.method} | {layer_path} unit {classes[i]}"
        if score is not None:
            title += f" (output {score:.3g})"
        _save_panel(display[i], maps[i], title, out, scale=args.scale)
        print(out)
        if args.npy:
            np.save(os.path.splitext(out)[0] + ".npy", maps[i])
    return 0


def _save_panel(image, heat, title: str, path: str, scale: str = "01") -> None:
    """Writes image | map | overlay side by side as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from vis.utils.image import overlay, to_rgb

    heat = np.asarray(heat, dtype="float32")
    if heat.ndim == 3:
        heat = np.abs(heat).max(axis=-1)
    img = np.asarray(image, dtype="float32") / (255.0 if scale == "255" else 1.0)
    rgb = np.clip(to_rgb(np.clip(img, 0, 1)) if img.max() > img.min() else np.zeros(
        img.shape[:2] + (3,), "float32"), 0, 1)
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
    axes[0].imshow(rgb, interpolation="nearest")
    axes[0].set_title("image", fontsize=9)
    im = axes[1].imshow(heat, cmap="inferno", interpolation="nearest")
    axes[1].set_title("map", fontsize=9)
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.04)
    axes[2].imshow(overlay(rgb, heat, alpha=0.5), interpolation="nearest")
    axes[2].set_title("overlay", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


# --- sanity --------------------------------------------------------------------------------------


def _load_npz(path: str):
    import numpy as np

    if not os.path.exists(path):
        raise UsageError(f"data file not found: {path!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise UsageError(f"{path!r} is a .npy array; expected an .npz with arrays x and y")
            missing = [k for k in ("x", "y") if k not in data.files]
            if missing:
                raise UsageError(
                    f"{path!r} lacks array(s) {missing}; expected arrays x (images) and y "
                    f"(integer labels), found {data.files}"
                )
            x, y = data["x"], data["y"]
    except UsageError:
        raise
    except Exception as err:
        raise UsageError(f"cannot read {path!r} as an .npz file ({type(err).__name__}: {err})"
                         ) from None
    return x, y


def _check_data(x, y, model, path: str):
    import numpy as np

    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim != len(expected) + 1 or any(
        e is not None and e != s for e, s in zip(expected, x.shape[1:])
    ):
        raise UsageError(
            f"x in {path!r} has shape {x.shape}; the model expects (n, "
            f"{', '.join(str(e) for e in expected)})"
        )
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
        raise UsageError(
            f"y in {path!r} must be {len(x)} integer labels (shape ({len(x)},)), got dtype "
            f"{y.dtype} and shape {y.shape}"
        )
    units = int(model.outputs[0].shape[-1])
    if len(y) and (y.min() < 0 or y.max() >= units):
        raise UsageError(
            f"labels y in {path!r} must be in 0..{units - 1} (the model has {units} outputs), "
            f"got values in {int(y.min())}..{int(y.max())}"
        )
    if not np.all(np.isfinite(x)):
        raise UsageError(f"x in {path!r} contains NaN or inf")
    return x.astype("float32"), y.astype("int64")


def _cmd_sanity(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not os.path.exists(args.model):
        raise UsageError(f"model file not found: {args.model!r}")
    x, y = _load_npz(args.data)  # before importing TensorFlow: bad files fail fast
    model = _load_model(args.model)
    x, y = _check_data(x, y, model, args.data)
    x, y = x[: args.n], y[: args.n]
    from vis.sanity import model_randomization_test

    os.makedirs(args.out, exist_ok=True)
    lines = [f"# Sanity checks: {os.path.basename(args.model)} ({args.mode}, {len(x)} images)", ""]
    results = {}
    for method in args.method:
        result = results[method] = model_randomization_test(
            model, x, y, method, mode=args.mode, seed=args.seed, verbose=False
        )
        figures = _result_figures(result)
        for suffix, fig in figures.items():
            path = os.path.join(args.out, f"sanity_{method}_{suffix}.png")
            fig.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(fig)
            print(path)
        lines += [f"## {method}", "", "```", str(result.summary()), "```", ""]
        print(f"{method}:\n{result.summary()}")
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


def _result_figures(result) -> dict:
    """The figures of a sanity `Result.plot()`, keyed `curves` / `maps`."""
    figs = result.plot()
    if isinstance(figs, dict):
        return figs
    if isinstance(figs, (tuple, list)):
        return {name: f for name, f in zip(("curves", "maps"), figs)}
    return {"curves": figs}


if __name__ == "__main__":
    sys.exit(main())
