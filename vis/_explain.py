"""`vis.explain`: one call for every registered attribution method."""

from __future__ import annotations

import keras
import numpy as np

from vis import engine, methods
from vis.errors import warn_if_degenerate

__all__ = ["explain"]


def explain(
    model: keras.Model,
    inputs,
    method=methods.DEFAULT,
    targets=None,
    *,
    output=-1,
    layer=None,
    smooth=None,
    batch_size: int | None = None,
    **options,
) -> np.ndarray:
    """Explains `model`'s decision on `inputs` with any registered method.

    The one front door of vis (Captum's `attribute`, xplique's `explain`): the map of each
    sample explains the *pre-softmax* score of its target class (or unit) of the `output`
    layer. Maps are raw and signed (no absolute value, no normalization; see
    `vis.methods.get(method).signed`), shaped like the input (the CAM family: like the input's
    spatial axes). The user's model is never modified.

    Args:
        model: A built Keras model. Never modified.
        inputs: One sample (no batch axis) or a batch.
        method: A registered name or alias (see `vis.methods.names()` or `vis methods`), a
            `vis.methods.Method`, or a callable `(model, inputs, targets, **options) -> maps`.
            Defaults to `vis.methods.DEFAULT` (`"gradient"`).
        targets: `None` (each sample's predicted class: the arg-max of the output's score), an
            int (that class for every sample) or one int per sample. Defaults to `None`.
        output: The layer whose score is explained (index, name, nested path or layer); a
            softmax layer is explained on its logits. Defaults to `-1` (the last layer).
        layer: Where a method works, e.g. the convolutional layer of the CAM family. Defaults
            to `None` (the method's default).
        smooth: A noise tunnel over the method (Captum's `NoiseTunnel`): `True`, or a dict
            `{"samples": 50, "noise": 0.15, "seed": 0, "kind": "mean" | "square" | "var"}`.
            Defaults to `None` (no smoothing).
        batch_size: The most samples (noisy copies, path points) per compiled call. Defaults to
            `None` (chosen by the method).
        **options: The method's own options, e.g. `steps=` and `baseline=` for
            `integrated_gradients`, `patterns=` for `patternnet` (see
            `vis.methods.get(method).options()`).

    Returns:
        The maps: a batch `(N, ...)`, or one map for one sample.

    Raises:
        ValueError: Bad input shape or values, unknown method or layer, target out of range,
            invalid options or smoothing settings, a method that needs fitted options (e.g.
            `patterns=` for `patternnet`), or no gradient path.
        TypeError: Arguments of the wrong type, or an option the method does not take.

    Example:
        >>> import vis
        >>> grads = vis.explain(model, x_test[:8], "gradient")          # predicted classes
        >>> ig = vis.explain(model, x_test[:8], "ig", y_test[:8], steps=64)
        >>> cam = vis.explain(model, x_test[0], "gradcam", 3, layer="conv2")
        >>> sg = vis.explain(model, x_test[:8], "guided_backprop", smooth={"samples": 20})
    """
    method = methods.get(method)
    settings = methods.check_smooth(smooth)
    batch_size = engine.check_batch_size(batch_size)
    x, single = engine.prepare_input(model, inputs, "inputs")
    t = methods.resolve_targets(model, x, targets, output=output, batch_size=batch_size)
    if layer is not None:
        options["layer"] = layer
    if output != -1:
        options["output"] = output
    if settings is None:
        maps = method(model, x, t, batch_size=batch_size, **options)
    else:
        maps = methods.noise_tunnel(method, model, x, t, batch_size=batch_size, **settings,
                                    **options)
    maps = _check_maps(np.asarray(maps), method, len(x))
    warn_if_degenerate(maps, method.name, stacklevel=3)
    return maps[0] if single else maps


def _check_maps(maps: np.ndarray, method, n: int) -> np.ndarray:
    if maps.ndim < 2 or len(maps) != n:
        raise ValueError(
            f"Method {method.name!r} returned maps of shape {maps.shape} for {n} samples; "
            "expected one map per sample, shape (N, ...)."
        )
    if not np.issubdtype(maps.dtype, np.number):
        raise TypeError(f"Method {method.name!r} returned maps of dtype {maps.dtype}.")
    return maps
