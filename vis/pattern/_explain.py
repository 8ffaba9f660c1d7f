"""The shared entry of the explainers: `y_k * d y_k / d x` with a backprop modifier (private)."""

from __future__ import annotations

import keras
import numpy as np

from vis import engine
from vis.backprop_modifiers import BackpropModifier
from vis.errors import warn_if_degenerate
from vis.losses import ActivationMaximization, PerSample
from vis.pattern import _layers
from vis.utils import checks

__all__ = ["target_indices", "explain_output"]


def target_indices(filter_indices, n: int):
    """`filter_indices` as an int or a `PerSample` for `n` samples (arrays are one per sample)."""
    if isinstance(filter_indices, PerSample):
        return filter_indices
    if isinstance(filter_indices, (bool, np.bool_)):
        raise TypeError(f"`filter_indices` must be an int or one int per sample, got {filter_indices!r}.")
    if isinstance(filter_indices, (int, np.integer)):
        return int(filter_indices)
    checks.no_booleans(filter_indices, "filter_indices")
    arr = np.asarray(filter_indices)
    if arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer):
        if len(arr) != n:
            raise ValueError(
                f"`filter_indices` has {len(arr)} indices but the input has {n} samples (give one "
                "int for all samples or one per sample)."
            )
        return PerSample(arr)
    raise TypeError(
        "`filter_indices` must be an int, one int per sample (array or vis.losses.per_sample), "
        f"got {type(filter_indices).__name__}: {filter_indices!r}."
    )


def explain_output(model: keras.Model, backprop_modifier: BackpropModifier, seed_input,
                   filter_indices, batch_size: int | None, warn: str | None = None
                   ) -> np.ndarray:
    """`y_k * d y_k / d x` with `backprop_modifier`, `y_k` the selected pre-softmax output.

    With `warn` (the method's name), all-zero or non-finite maps are warned about
    (`vis.errors.warn_if_degenerate`), as `vis.explain` does.
    """
    x, single = engine.prepare_input(model, seed_input)
    out_path, out_layer = _layers.output_layer(model)
    if len(out_layer.output.shape) != 2:
        raise ValueError(
            f"The model output has shape {tuple(out_layer.output.shape)}; explain() needs a "
            "(batch, units) output."
        )
    loss = ActivationMaximization(out_path, target_indices(filter_indices, len(x)))
    scores, grads = engine.gradients(
        model, [(loss, 1.0)], x, backprop_modifier=backprop_modifier, batch_size=batch_size
    )
    maps = grads * scores.reshape((-1,) + (1,) * (grads.ndim - 1)).astype(grads.dtype)
    if warn is not None:
        warn_if_degenerate(maps, warn, stacklevel=4)
    return maps[0] if single else maps
