"""The `vis` command: `vis demo`, `vis saliency`, `vis cam`, `vis sanity`.

Errors a user can act on (a missing file, an image that cannot be decoded, an output path that
cannot be written, an unknown layer or method, a class out of range...) print one line
`vis: error: ...` and exit with status 2, without a traceback. An unexpected failure inside a
method exits with status 1 and one line; `vis --traceback COMMAND ...` shows the full traceback.

Every file argument is checked before TensorFlow is imported, so mistakes are reported in a
fraction of a second, and `vis --help` is instant. TensorFlow's start-up banner is hidden (set
`VIS_VERBOSE_TF=1`, or use `--traceback`, to see it).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Sequence

__all__ = ["main", "build_parser", "SALIENCY_METHODS", "CAM_METHODS", "SANITY_METHODS",
           "FILE_FORMATS", "UsageError"]

SALIENCY_METHODS = ("gradient", "guided", "deconvnet", "smoothgrad", "integrated_gradients",
                    "gradient_x_input")
CAM_METHODS = ("gradcam", "gradcam++", "guided_gradcam")
SANITY_METHODS = ("gradient", "guided_backprop", "deconvnet", "smoothgrad",
                  "integrated_gradients", "gradient_x_input", "gradcam", "guided_gradcam",
                  "patternnet", "patternattribution", "lrp")
FILE_FORMATS = (".png", ".jpg", ".jpeg", ".pdf", ".svg")
"""Extensions that make `--out` of `vis saliency` / `vis cam` a file (one image only)."""

# Extensions of files that `--out` cannot write: refused instead of becoming a folder name.
_NOT_WRITABLE = (".gif", ".bmp", ".tif", ".tiff", ".webp", ".eps", ".ps", ".npy", ".npz",
                 ".keras", ".h5", ".txt", ".md", ".html")
_DEFAULT_SANITY_METHODS = ("gradient", "guided_backprop")


class UsageError(Exception):
    """A problem with the user's arguments or files: reported in one line, exit status 2.

    Example:
        >>> raise UsageError("--class 12 is out of range")  # doctest: +SKIP
    """


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


def _method_list(value: str) -> list[str]:
    """`--method a,b` of `vis sanity`: one or more comma-separated names."""
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"expected method names separated by commas, got {value!r}"
        )
    for name in names:
        _choice(SANITY_METHODS, "method")(name)
    return names


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
                        help="show the full traceback of unexpected errors (and TensorFlow's "
                        "start-up messages)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    demo = sub.add_parser(
        "demo", help="train a digits CNN and write figures of every method",
        description="Trains a small CNN on scikit-learn's bundled 8x8 digits (no download) and "
        "writes into DIR: every saliency method on several digits, parameter-space saliency of a "
        "misclassified digit, sanity-check curves and maps, and summary.md with the numbers.",
    )
    demo.add_argument("--out", default="demo_out", metavar="DIR",
                      help="output folder, created if needed (default: demo_out)")
    demo.add_argument("--fast", action="store_true",
                      help="train less and use fewer images (about 25 s instead of 40 s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    demo.set_defaults(func=_cmd_demo)

    formats = ", ".join(FILE_FORMATS)
    for name, methods, default, what in (
        ("saliency", SALIENCY_METHODS, "gradient", "gradient-based saliency maps"),
        ("cam", CAM_METHODS, "gradcam", "class activation maps (Grad-CAM family)"),
    ):
        p = sub.add_parser(
            name, help=f"{what} of a saved model on image files",
            description=f"Writes {what} of a saved Keras model (.keras, loaded with "
            "safe_mode=True) for image files, resized and scaled to the model's input. One "
            "figure per image: the image, the map and the overlay.",
        )
        p.add_argument("model", metavar="MODEL", help="a .keras model file")
        p.add_argument("images", metavar="IMAGE", nargs="+", help="image files (PNG, JPEG, ...)")
        p.add_argument("--method", type=_choice(methods, "method"), default=default,
                       help=f"one of: {', '.join(methods)} (default: {default})")
        p.add_argument("--layer", type=_layer_arg, default=None, metavar="L",
                       help="layer to explain: name, nested path (base/conv5) or index "
                       "(default: the model's output; required for models with several outputs)")
        if name == "cam":
            p.add_argument("--penultimate-layer", type=_layer_arg, default=None, metavar="L",
                           help="conv layer whose feature maps are weighted (default: the last "
                           "spatial layer before --layer)")
        p.add_argument("--class", dest="klass", type=_class_arg, default="top", metavar="K|top",
                       help="unit/class index, or 'top' for each image's largest output of the "
                       "layer (default: top)")
        p.add_argument("--scale", choices=("01", "255"), default="01",
                       help="pixel scaling the model expects: [0, 1] or [0, 255] (default: 01)")
        p.add_argument("--out", default=None, metavar="FILE_OR_DIR",
                       help=f"output file ({formats}; one image only) or folder "
                       "(default: vis_out/)")
        p.add_argument("--npy", action="store_true",
                       help="also write each map as a .npy array next to its figure")
        p.set_defaults(func=_cmd_explain, kind=name)

    san = sub.add_parser(
        "sanity", help="model randomization sanity checks of saliency methods",
        description="Runs the cascading (or independent) model randomization test of Adebayo "
        "et al. (2018) on a saved model and data in an .npz file with arrays x (preprocessed "
        "images) and y (integer labels); writes the similarity curves and the map grid.",
    )
    san.add_argument("model", metavar="MODEL", help="a .keras model file")
    san.add_argument("data", metavar="DATA.npz", help="an .npz file with arrays x and y")
    san.add_argument("--method", dest="methods", type=_method_list, action="append",
                     default=None, metavar="NAME[,NAME...]",
                     help=f"comma-separated methods (the option can be repeated), from: "
                     f"{', '.join(SANITY_METHODS)} (default: {','.join(_DEFAULT_SANITY_METHODS)})")
    san.add_argument("--mode", choices=("cascading", "independent"), default="cascading",
                     help="randomize layers cumulatively from the top, or one at a time "
                     "(default: cascading)")
    san.add_argument("--n", type=_positive_int, default=16,
                     help="number of images used, the first N of DATA (default: 16)")
    san.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    san.add_argument("--out", default="sanity_out", metavar="DIR",
                     help="output folder, created if needed (default: sanity_out)")
    san.set_defaults(func=_cmd_sanity)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `vis` command line.

    Args:
        argv: The arguments (without the program name). Defaults to `None` (`sys.argv[1:]`).

    Returns:
        The exit status: 0 on success, 2 for a usage or input error, 1 for an unexpected error.

    Raises:
        SystemExit: For `--help`, `--version` and argument syntax errors (status 0 or 2), as
            argparse does.

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
        return _fail(f"{type(err).__name__}: {clean_message(str(err))} "
                     "(run `vis --traceback ...` for details)", 1)


_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): (.*)$")


def clean_message(message: str) -> str:
    """The user-facing part of an error message, without TensorFlow's traceback wrapper.

    Errors raised inside a `tf.function` come back as `in user code: File "...", line ...
    ValueError: <message>`; only the last `...Error: <message>` is kept (with the exception
    name dropped). Other messages are returned unchanged, whitespace collapsed to one line.

    Args:
        message: An exception's text.

    Returns:
        One line of text.

    Example:
        >>> clean_message('in user code:\\n  File "x.py", line 3\\n  ValueError: Bad layer.')
        'Bad layer.'
    """
    text = str(message)
    if "in user code:" in text or "Traceback (most recent call last)" in text:
        lines = text.splitlines()
        for i in range(len(lines) - 1, -1, -1):
            match = _ERROR_LINE.match(lines[i])
            if match:
                text = "\n".join([match.group(2), *lines[i + 1:]])
                break
    # Keras' wrapper: "Exception encountered when calling X.call().\n\n<message>\n\n
    # Arguments received by X.call(): ..."
    wrapped = re.search(r"Exception encountered when calling [^\n]*\n\s*\n(.*?)"
                        r"(?:\n\s*\nArguments received by .*)?$", text, flags=re.S)
    if wrapped:
        text = wrapped.group(1)
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # terminal colours
    return " ".join(text.split())


def _fail(message: str, status: int) -> int:
    print(f"vis: error: {clean_message(message)}", file=sys.stderr)
    return status


def _report_warnings(caught) -> None:
    package = os.path.dirname(os.path.abspath(__file__))
    seen = set()
    for w in caught:
        if not os.path.abspath(w.filename).startswith(package):
            continue
        text = clean_message(str(w.message))
        if text not in seen:
            seen.add(text)
            print(f"vis: warning: {text}", file=sys.stderr)


def _import_tensorflow(args) -> None:
    """Imports TensorFlow and Keras, hiding TensorFlow's start-up banner on stderr.

    The absl/oneDNN lines are written by C++ straight to file descriptor 2, before
    `TF_CPP_MIN_LOG_LEVEL` is honoured; fd 2 is pointed at /dev/null during the import only.
    Kept visible with `--traceback` or `VIS_VERBOSE_TF=1`.
    """
    if sys.modules.get("tensorflow") is not None:
        return
    quiet = not getattr(args, "traceback", False) and os.environ.get("VIS_VERBOSE_TF") != "1"
    saved = devnull = None
    if quiet:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
        except (OSError, AttributeError, ValueError):
            saved = None
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError as err:
        raise UsageError(
            f"TensorFlow / Keras cannot be imported ({err}); install TensorFlow >= 2.16, e.g. "
            "`pip install tensorflow-cpu` (see the README's install section)"
        ) from None
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        if devnull is not None:
            os.close(devnull)


# --- output paths --------------------------------------------------------------------------------


def _existing_ancestor(path: str) -> str:
    p = os.path.abspath(path)
    while not os.path.lexists(p):
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return p


def _check_creatable(folder: str, path: str, option: str) -> None:
    """`folder` exists as a writable folder or can be created."""
    ancestor = _existing_ancestor(folder)
    if not os.path.isdir(ancestor):
        raise UsageError(
            f"{option} {path!r} cannot be written: {ancestor!r} is a file, not a folder"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(
            f"{option} {path!r} cannot be written: no write permission in {ancestor!r}"
        )


def _check_out_dir(path: str, option: str = "--out") -> None:
    """An output folder: an existing folder, or one that can be created."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise UsageError(
            f"{option} {path!r} is an existing file, not a folder; give a folder name (it is "
            "created if needed)"
        )
    _check_creatable(path, path, option)


def _check_out_file(path: str, option: str = "--out") -> None:
    """An output file: not a folder, in a folder that exists or can be created."""
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is an existing folder, not a file")
    _check_creatable(os.path.dirname(os.path.abspath(path)), path, option)


def _check_no_overwrite(outputs: Sequence[str], inputs: Sequence[str]) -> None:
    """Refuses an output path that is one of the input files (same path, link or hard link)."""

    def key(p: str) -> str:
        return os.path.normcase(os.path.realpath(p))

    by_key = {key(p): p for p in inputs}
    for out in outputs:
        hit = by_key.get(key(out))
        if hit is None and os.path.exists(out):
            hit = next((p for p in inputs if os.path.exists(p) and os.path.samefile(out, p)),
                       None)
        if hit is not None:
            raise UsageError(
                f"--out: writing {out!r} would overwrite the input file {hit!r}; choose another "
                "--out"
            )


def _output_paths(images: Sequence[str], out: str | None, method: str) -> list[str]:
    """One output figure per image: `out` itself (a file, one image) or files in a folder."""
    ext = os.path.splitext(out)[1].lower() if out else ""
    is_dir = out is not None and os.path.isdir(out)
    if out is not None and not is_dir and ext in FILE_FORMATS:
        if len(images) != 1:
            raise UsageError(
                f"--out {out!r} is a single {ext} file but {len(images)} images were given; "
                "give a folder (a name without a file extension) instead"
            )
        _check_out_file(out)
        return [out]
    if out is not None and not is_dir and ext in _NOT_WRITABLE:
        raise UsageError(
            f"--out {out!r}: cannot write {ext} files; give a {', '.join(FILE_FORMATS)} file "
            "(one image) or a folder"
        )
    folder = out or "vis_out"
    _check_out_dir(folder)
    tag = method.replace("++", "pp")
    stems = [os.path.splitext(os.path.basename(p))[0] for p in images]
    names = [f"{s}_{tag}.png" for s in stems]
    if len(set(names)) != len(names):
        names = [f"{i:03d}_{s}_{tag}.png" for i, s in enumerate(stems)]
    return [os.path.join(folder, n) for n in names]


# --- demo ----------------------------------------------------------------------------------------


def _cmd_demo(args) -> int:
    _check_out_dir(args.out)
    _import_tensorflow(args)
    from vis.demo import run_demo

    run_demo(args.out, fast=args.fast, seed=args.seed, verbose=not args.quiet)
    return 0


# --- saliency / cam ------------------------------------------------------------------------------


_OPTION_NAMES = {"`penultimate_layer_idx`": "--penultimate-layer", "`layer_idx`": "--layer",
                 "`filter_indices`": "--class", "`seed_input`": "IMAGE", "`wrt_tensor`": "--layer"}
_SANITY_OPTION_NAMES = {
    "pass `penultimate_layer_idx` explicitly": "it needs a convolutional layer: choose another "
    "--method",
    "`penultimate_layer_idx`": "the penultimate layer", "`layer_idx`": "the output layer",
    "`method`": "--method", "`mode`": "--mode", "`seed`": "--seed", "`x`": "x (DATA)",
    "`y`": "y (DATA)",
}


def _user_input(fn, *a, options=None, prefix: str = "", **kw):
    """Calls `fn`, turning `ValueError`/`TypeError` about the user's input into a `UsageError`.

    Python parameter names in the message are replaced by the matching command-line options,
    and TensorFlow's traceback wrapper is removed.
    """
    try:
        return fn(*a, **kw)
    except (ValueError, TypeError) as err:
        message = clean_message(str(err))
        for name, option in (_OPTION_NAMES if options is None else options).items():
            message = message.replace(name, option)
        raise UsageError(prefix + message) from None


def _valid_layer_names(model) -> list[str]:
    import keras

    from vis.utils.model import iter_layers

    return [path for path, layer in iter_layers(model)
            if not isinstance(layer, keras.layers.InputLayer)]


def _resolve_layer(model, layer, what: str = "--layer"):
    import keras

    from vis.utils.model import resolve_layer

    names = _valid_layer_names(model)
    n = len(model.layers)
    valid = f"valid names: {', '.join(names)} (or an index -{n}..{n - 1})"
    try:
        path, found = resolve_layer(model, layer, param=what.lstrip("-").replace("-", "_"))
    except (ValueError, TypeError):
        raise UsageError(f"{what} {layer!r}: no such layer; {valid}") from None
    if isinstance(found, keras.layers.InputLayer):
        raise UsageError(
            f"{what} {layer!r} is the model's input layer {path!r}, which computes nothing to "
            f"explain; {valid}"
        )
    return path, found


def _output_layer(model) -> str:
    """Path of the layer computing the model's single output (for the default --layer)."""
    from vis.utils.model import resolve_layer

    outputs = list(model.outputs)
    names = [resolve_layer(model, t)[0] for t in outputs]
    if len(outputs) != 1:
        raise UsageError(
            f"the model has {len(outputs)} outputs ({', '.join(names)}); choose the one to "
            "explain with --layer"
        )
    return names[0]


def _layer_scores(model, layer_path: str, x):
    """Each image's per-unit output of the explained layer, `(N, units)`.

    Computed on vis' cached model copy (one forward pass recording every layer, nested layers
    included): conv outputs are averaged over space, as `ActivationMaximization` scores them.
    """
    import numpy as np

    from vis import engine

    copy = engine.get_copy(model)
    path, layer = copy.layer(layer_path, "layer_idx")
    copy.sync()
    copy.recorder.clear()
    try:
        copy.model(x, training=False)
        out = copy.recorder.get(path)
    finally:
        copy.recorder.clear()
    if isinstance(out, (list, tuple)):
        if len(out) != 1:
            raise UsageError(
                f"--layer {layer_path!r} has {len(out)} outputs; choose a layer with one output"
            )
        out = out[0]
    if out is None:
        raise UsageError(f"--layer {layer_path!r} is not used when the model computes its output")
    out = np.asarray(out, dtype="float64")
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim > 2:
        caxis = copy.channel_axis(layer) % out.ndim
        out = out.mean(axis=tuple(a for a in range(1, out.ndim) if a != caxis))
    return out


def _target_classes(model, layer_path: str, x, klass) -> tuple:
    """The explained unit per image, and the layer's outputs `(N, units)` for the titles."""
    import numpy as np

    scores = _layer_scores(model, layer_path, x)
    units = scores.shape[1]
    if klass != "top" and klass >= units:
        raise UsageError(
            f"--class {klass} is out of range: layer {layer_path!r} has {units} units "
            f"(valid: 0..{units - 1} or 'top')"
        )
    # For a softmax layer the argmax of the probabilities is the argmax of the logits, which
    # the methods explain.
    classes = np.argmax(scores, axis=-1) if klass == "top" else np.full(len(x), klass)
    return classes.astype("int64"), scores


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


def _check_model_file(path: str) -> None:
    from vis.utils import io

    _user_input(io.check_model_file, path)


def _cmd_explain(args) -> int:
    import numpy as np

    from vis.utils import io

    # Everything about the files is checked before TensorFlow is imported.
    outputs = _output_paths(args.images, args.out, args.method)
    npys = [os.path.splitext(out)[0] + ".npy" for out in outputs] if args.npy else []
    _check_no_overwrite(outputs + npys, [args.model, *args.images])
    _check_model_file(args.model)
    images = [_user_input(io.read_image, path) for path in args.images]

    _import_tensorflow(args)
    model = _user_input(io.load_model, args.model)
    layout = _user_input(io.image_layout, model)
    x = _user_input(io.load_images, images, layout, scale=args.scale)
    if args.layer is None:
        layer_path = _output_layer(model)
    else:
        layer_path, _ = _resolve_layer(model, args.layer)
    penultimate = None
    if getattr(args, "penultimate_layer", None) is not None:
        penultimate, _ = _resolve_layer(model, args.penultimate_layer, "--penultimate-layer")
    classes, scores = _user_input(_target_classes, model, layer_path, x, args.klass)
    # The methods raise ValueError/TypeError for inputs they cannot explain (e.g. Grad-CAM of a
    # model without convolutions): those are the user's to fix, reported like the others.
    maps = _user_input(_explain, args.kind, args.method, model, layer_path, x, classes,
                       penultimate)
    maps = np.asarray(maps)
    display = np.moveaxis(x, 1, -1) if layout.channels_first else x
    for i, out in enumerate(outputs):
        title = f"{args.method} | {layer_path} unit {classes[i]} " \
                f"(output {float(scores[i, classes[i]]):.3g})"
        _save_panel(display[i], maps[i], title, out, scale=args.scale)
        print(out)
        if args.npy:
            np.save(npys[i], maps[i])
    return 0


def _panel_figure(image, heat, title: str, scale: str = "01"):
    """The figure image | map | overlay, the map and the overlay in the same colormap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from vis.utils.image import overlay, to_rgb

    cmap = "inferno"
    heat = np.asarray(heat, dtype="float32")
    if heat.ndim == 3:
        heat = np.abs(heat).max(axis=-1)
    img = np.asarray(image, dtype="float32") / (255.0 if scale == "255" else 1.0)
    rgb = np.clip(to_rgb(np.clip(img, 0, 1)) if img.max() > img.min() else np.zeros(
        img.shape[:2] + (3,), "float32"), 0, 1)
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
    axes[0].imshow(rgb, interpolation="nearest")
    axes[0].set_title("image", fontsize=9)
    im = axes[1].imshow(heat, cmap=cmap, interpolation="nearest")
    axes[1].set_title("map", fontsize=9)
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.04)
    axes[2].imshow(overlay(rgb, heat, alpha=0.5, cmap=cmap), interpolation="nearest")
    axes[2].set_title("overlay", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return fig


def _save_panel(image, heat, title: str, path: str, scale: str = "01") -> None:
    """Writes image | map | overlay side by side (format from the file extension)."""
    import matplotlib.pyplot as plt

    fig = _panel_figure(image, heat, title, scale)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")
    except OSError as err:
        raise UsageError(f"--out: cannot write {path!r} ({err.strerror or err})") from None
    finally:
        plt.close(fig)


# --- sanity --------------------------------------------------------------------------------------


def _load_data(path: str, n: int):
    """x and y from DATA.npz (first `n` rows only), before TensorFlow is imported."""
    from vis.utils import io

    if not os.path.exists(path):
        raise UsageError(f"data file not found: {path!r}")
    try:
        arrays = io.load_npz(path, ("x", "y"), max_rows=n)
    except ValueError as err:
        raise UsageError(f"DATA must be a .npz file with arrays x and y: {err}") from None
    return arrays["x"], arrays["y"]


def _check_data(x, y, model, path: str):
    import numpy as np

    if len(model.outputs) != 1:
        raise UsageError(
            f"the model has {len(model.outputs)} outputs; vis sanity explains single-output "
            "classifiers"
        )
    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim != len(expected) + 1 or any(
        e is not None and e != s for e, s in zip(expected, x.shape[1:])
    ):
        raise UsageError(
            f"x in {path!r} has shape {x.shape}; the model expects (n, "
            f"{', '.join(str(e) for e in expected)})"
        )
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise UsageError(f"x in {path!r} must hold numbers, got dtype {x.dtype}")
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


def _sanity_methods(args) -> list[str]:
    chosen = [m for group in (args.methods or [list(_DEFAULT_SANITY_METHODS)]) for m in group]
    return list(dict.fromkeys(chosen))


def _cmd_sanity(args) -> int:
    methods = _sanity_methods(args)
    _check_out_dir(args.out)
    planned = [os.path.join(args.out, f"sanity_{m}_{kind}.png") for m in methods
               for kind in ("curves", "maps")]
    planned += [os.path.join(args.out, name) for name in ("sanity_comparison.png", "summary.md")]
    _check_no_overwrite(planned, [args.model, args.data])
    _check_model_file(args.model)
    x, y = _load_data(args.data, args.n)  # before importing TensorFlow: bad files fail fast

    _import_tensorflow(args)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vis.utils import io

    model = _user_input(io.load_model, args.model)
    x, y = _check_data(x, y, model, args.data)
    from vis.sanity import model_randomization_test

    lines = [f"# Sanity checks: {os.path.basename(args.model)} ({args.mode}, {len(x)} images)", ""]
    results = {}
    for method in methods:
        result = results[method] = _user_input(
            model_randomization_test, model, x, y, method, mode=args.mode, seed=args.seed,
            verbose=False, options=_SANITY_OPTION_NAMES, prefix=f"--method {method}: ",
        )
        os.makedirs(args.out, exist_ok=True)  # once the first method has run
        for suffix, fig in _result_figures(result).items():
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
