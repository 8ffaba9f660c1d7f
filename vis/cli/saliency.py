"""`vis saliency` and `vis cam`: any registered method's maps of a saved model on image files.

The two commands differ only in their default method and in `vis cam`'s `--penultimate-layer`
(the `layer=` of `vis.explain`). Maps are computed by `vis.explain` (raw and signed) and turned
into heat maps from the method's record (`vis.cli._figures.display_maps`).
"""

from __future__ import annotations

import argparse
import os
import re

import numpy as np

from vis.cli._data import check_images, load_data
from vis.cli._errors import UsageError, user_input
from vis.cli._figures import display_maps, save_panel
from vis.cli._paths import check_no_overwrite, check_out, output_paths
from vis.cli._registry import load_methods, resolve

__all__ = ["run", "compute_maps", "target_classes", "method_options", "output_layer",
           "resolve_layer"]


def run(args: argparse.Namespace) -> int:
    """Runs `vis saliency` / `vis cam`: one figure (and optionally one `.npy`) per image.

    Args:
        args: The parsed arguments.

    Returns:
        The exit status, 0.

    Raises:
        UsageError: For every problem the user can fix (files, layers, classes, a method that
            cannot explain the model).
    """
    from vis.utils import io

    # Everything about the files is checked before TensorFlow is imported.
    check_out(args.images, args.out)
    user_input(io.check_model_file, args.model, option="MODEL")
    images = [user_input(io.read_image, path, option="IMAGE") for path in args.images]
    fit_x = None
    if args.fit_data is not None:
        fit_x = load_data(args.fit_data, None, ("x",), option="--fit-data")["x"]

    methods = load_methods(args)
    name = args.method
    if name is None:
        name = methods.CAM_DEFAULT if args.command == "cam" else methods.DEFAULT
    method = resolve(methods, name, args.parser)
    tag = re.sub(r"[^\w.-]", "_", name.replace("++", "pp"))  # gradcam++ -> gradcampp
    outputs = output_paths(args.images, args.out, tag)
    npys = [os.path.splitext(out)[0] + ".npy" for out in outputs] if args.npy else []
    inputs = [args.model, *args.images, *([args.fit_data] if args.fit_data else [])]
    check_no_overwrite(outputs + npys, inputs)

    model = user_input(io.load_model, args.model, option="MODEL")
    layout = user_input(io.image_layout, model, option="MODEL")
    x = user_input(io.load_images, images, layout, scale=args.scale, option="IMAGE")
    layer_path = output_layer(model) if args.layer is None else resolve_layer(model, args.layer)
    options = method_options(method, name, model, layer_path, args, fit_x)
    classes, scores = target_classes(model, layer_path, x, args.klass)
    params = {"output": "--layer", "targets": "--class"}  # vis.explain's, given by options
    if args.command == "cam":
        params["layer"] = "--penultimate-layer"
    maps = compute_maps(model, x, method, name, classes, layer_path, options, params)
    heat = display_maps(maps, method, 1 if layout.channels_first else -1)
    display = np.moveaxis(x, 1, -1) if layout.channels_first else x
    for i, out in enumerate(outputs):
        title = f"{name} | {layer_path} unit {classes[i]} " \
                f"(output {float(scores[i, classes[i]]):.3g})"
        save_panel(display[i], heat[i], title, out, scale=args.scale)
        print(out)
        if args.npy:
            np.save(npys[i], heat[i])
    return 0


def compute_maps(model, x: np.ndarray, method, name: str, classes: np.ndarray, layer_path: str,
                 options: dict, params: dict | None = None) -> np.ndarray:
    """The raw maps of `vis.explain` for each image's class of the explained layer.

    Args:
        model: The loaded model.
        x: The images, a batch in the model's layout.
        method: The `vis.methods.Method`.
        name: The name the user gave it (for messages).
        classes: One unit index per image.
        layer_path: The explained layer (`output=`).
        options: The method's options (`layer=`, fitted options).
        params: The parameters of `vis.explain` that command-line options give (for the prefix
            of error messages), e.g. `{"layer": "--penultimate-layer"}`. Defaults to `None`.

    Returns:
        The raw, signed maps, a batch.

    Raises:
        UsageError: `--method NAME[, --option]: <library message>` when the method cannot
            explain the model or its inputs (e.g. Grad-CAM without a convolution).
    """
    import vis

    if method.accepts("output"):  # a method that explains no layer (e.g. a control) takes none
        options = {"output": layer_path, **options}
    return np.asarray(user_input(vis.explain, model, x, method, classes,
                                 option=f"--method {name}", params=params, **options))


def method_options(method, name: str, model, layer_path: str, args: argparse.Namespace,
                   fit_x: np.ndarray | None) -> dict:
    """The options of `vis.explain` that the command line provides for `method`.

    `--penultimate-layer` is `layer=` (the default of the CAM family, the last layer with a
    spatial output before `--layer`, is found here so that an error names the option), and
    the options a method learns from data (`method.requires`, e.g. PatternNet's `patterns`) are
    fitted with `method.fit` on `--fit-data`.

    Args:
        method: The `vis.methods.Method`.
        name: The name the user gave it.
        model: The loaded model.
        layer_path: The explained layer.
        args: The parsed arguments (`penultimate_layer`, `fit_data`, `command`).
        fit_x: The array `x` of `--fit-data`, or `None`.

    Returns:
        The options, a dict.

    Raises:
        UsageError: A `--layer` or `--penultimate-layer` for a method that takes no such option,
            no spatial layer for a CAM method, or a method that needs fitting without
            `--fit-data`.
    """
    from vis.utils.model import find_last_conv_layer

    options: dict = {}
    if args.layer is not None and not method.accepts("output"):
        raise UsageError(
            f"--layer: --method {name} explains no layer (method {method.name!r} takes the "
            f"options {sorted(method.options())})"
        )
    if args.penultimate_layer is not None:
        if not method.accepts("layer"):
            raise UsageError(
                f"--penultimate-layer: --method {name} does not work at a layer (method "
                f"{method.name!r} takes the options {sorted(method.options())})"
            )
        options["layer"] = resolve_layer(model, args.penultimate_layer, "--penultimate-layer")
    elif args.command == "cam" and method.family == "cam" and method.accepts("layer"):
        options["layer"] = user_input(find_last_conv_layer, model, before=layer_path,
                                      param="--penultimate-layer", option="--penultimate-layer")
    if method.requires:
        needed = ", ".join(f"`{r}`" for r in method.requires)
        if method.fit is None:
            raise UsageError(
                f"--method {name} needs {needed}, which the command line cannot provide; use "
                "the Python API (vis.explain)"
            )
        if fit_x is None:
            raise UsageError(
                f"--method {name} learns {needed} from data: give --fit-data DATA.npz, an .npz "
                "file with an array x of preprocessed training images"
            )
        x_fit = check_images(fit_x, model, args.fit_data)
        options.update(user_input(method.fit, model, x_fit, option="--fit-data"))
    return options


def _valid_layer_names(model) -> list[str]:
    import keras

    from vis.utils.model import iter_layers

    return [path for path, layer in iter_layers(model)
            if not isinstance(layer, keras.layers.InputLayer)]


def resolve_layer(model, layer, option: str = "--layer") -> str:
    """The path of a layer given on the command line; input layers are refused.

    Args:
        model: The loaded model.
        layer: An index, a name or a nested path.
        option: The option it came from. Defaults to `"--layer"`.

    Returns:
        The layer's path.

    Raises:
        UsageError: For an unknown layer or an input layer (the valid names are listed).
    """
    import keras

    from vis.utils.model import resolve_layer as _resolve

    names = _valid_layer_names(model)
    n = len(model.layers)
    valid = f"valid names: {', '.join(names)} (or an index -{n}..{n - 1})"
    try:
        path, found = _resolve(model, layer, param=option)
    except (ValueError, TypeError):
        raise UsageError(f"{option} {layer!r}: no such layer; {valid}") from None
    if isinstance(found, keras.layers.InputLayer):
        raise UsageError(
            f"{option} {layer!r} is the model's input layer {path!r}, which computes nothing to "
            f"explain; {valid}"
        )
    return path


def output_layer(model) -> str:
    """The path of the layer computing the model's single output (the default `--layer`).

    Raises:
        UsageError: For a model with several outputs.
    """
    from vis.utils.model import resolve_layer as _resolve

    outputs = list(model.outputs)
    names = [_resolve(model, t)[0] for t in outputs]
    if len(outputs) != 1:
        raise UsageError(
            f"the model has {len(outputs)} outputs ({', '.join(names)}); choose the one to "
            "explain with --layer"
        )
    return names[0]


def target_classes(model, layer_path: str, x: np.ndarray, klass) -> tuple[np.ndarray, np.ndarray]:
    """The explained unit per image, and the layer's outputs `(N, units)` for the titles.

    The outputs are `vis.engine.activations` of the layer (for a convolution, averaged over
    space: the score that is explained); `top` takes each image's largest one (for a softmax
    layer, the largest probability, which is the largest logit).

    Args:
        model: The loaded model.
        layer_path: The explained layer.
        x: The images.
        klass: `--class`: an int or `"top"`.

    Returns:
        `(classes, scores)`: int64 `(N,)` and float64 `(N, units)`.

    Raises:
        UsageError: A class out of range, or a layer whose output cannot be read (several
            outputs, not used by the model).
    """
    from vis import engine

    out = user_input(engine.activations, model, x, layer_path, option=f"--layer {layer_path!r}")
    scores = np.asarray(out, dtype="float64")
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim > 2:
        copy = engine.get_copy(model)
        caxis = copy.channel_axis(copy.layer(layer_path, "layer")[1]) % scores.ndim
        scores = scores.mean(axis=tuple(a for a in range(1, scores.ndim) if a != caxis))
    units = scores.shape[1]
    if klass != "top" and klass >= units:
        raise UsageError(
            f"--class {klass} is out of range: layer {layer_path!r} has {units} units "
            f"(valid: 0..{units - 1} or 'top')"
        )
    classes = np.argmax(scores, axis=-1) if klass == "top" else np.full(len(x), klass)
    return classes.astype("int64"), scores
