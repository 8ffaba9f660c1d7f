"""Where the channels of the maps are, and which metrics apply to maps of that shape.

The metrics sum a map over its channel axis before comparing. Summing over an axis that is not
a channel (the width of a grayscale `(N, H, W)` image) would compare row sums instead of maps,
so a channel axis is assumed only where the model reads one:

- if the model's first convolution or pooling layer has spatial rank `r` (`Conv1D`: 1,
  `Conv2D`: 2, ...) and the model's input has rank `r + 2` (batch, `r` spatial axes,
  channels), the input's channel axis is that layer's (`channels_last`: -1, `channels_first`:
  1), and maps shaped like the input have it too; an input of another rank (grayscale images
  reshaped inside the model) has none;
- a model without convolutions (an MLP) has one only for 4-D or larger inputs / maps
  `(N, H, W, C)`, taken from the Keras image data format.

Maps of another rank than the input (Grad-CAM's `(N, H, W)`) have no channel axis.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np

from vis.sanity import metrics as _metrics
from vis.utils.model import input_channel_axis


def auto_channel_axis(model: keras.Model, ndim: int) -> int | None:
    """The channel axis of a batch of maps of rank `ndim` from `model` (see the module).

    Args:
        model: The explained model (single input).
        ndim: Rank of the batch of maps, batch axis included.

    Returns:
        `-1` or `1`, or `None` if the maps have no channel axis.
    """
    return input_channel_axis(model, ndim)


def check_channel_axis(channel_axis) -> int | None:
    """Validates the type of a user's `channel_axis` (`None` or an int)."""
    if channel_axis is None:
        return None
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
        raise TypeError(
            f"`channel_axis` must be None (automatic) or an int axis of the maps, got "
            f"{channel_axis!r}."
        )
    return int(channel_axis)


def channel_axis_for(model: keras.Model, shape: tuple, channel_axis: int | None,
                     what: str) -> int | None:
    """The channel axis of maps of batch shape `shape`: the user's (checked) or automatic."""
    ndim = len(shape)
    if channel_axis is None:
        return auto_channel_axis(model, ndim)
    if not -ndim < channel_axis < ndim or channel_axis % ndim == 0:
        raise ValueError(
            f"`channel_axis`={channel_axis} is not a non-batch axis of the {what} of shape "
            f"{tuple(shape)}: expected 1..{ndim - 1} or -{ndim - 1}..-1, or None (automatic)."
        )
    return channel_axis


def spatial_shape(shape: tuple, channel_axis: int | None) -> tuple:
    """One map's shape without the batch and the channel axis."""
    dims = list(shape[1:])
    if channel_axis is not None:
        del dims[channel_axis % len(shape) - 1]
    return tuple(dims)


def applicable_metrics(fns: dict, shape: tuple, default: bool, where: str) -> dict:
    """The metrics of `fns` that can compare maps of spatial `shape`.

    With the default metrics, the ones that do not apply (`hog` on maps that are not 2-D,
    `ssim` on 1-D maps or maps with a side under 3) are dropped with a warning; metrics the user
    asked for raise instead.

    Raises:
        ValueError: If a requested metric does not apply, or no default metric does.
    """
    keep, dropped = {}, {}
    for name, fn in fns.items():
        try:
            _metrics.check_map_shape(fn, shape)
        except ValueError as err:
            if not default:
                raise ValueError(
                    f"`metrics`: {name!r} cannot compare the maps of {where} (spatial shape "
                    f"{shape}): {err}"
                ) from None
            dropped[name] = str(err)
            continue
        keep[name] = fn
    if dropped:
        reasons = " ".join(f"{name!r}: {why}" for name, why in dropped.items())
        warnings.warn(
            f"The default metric(s) {list(dropped)} do not apply to the maps of {where} "
            f"(spatial shape {shape}) and are skipped; pass `metrics=` to choose the metrics. "
            f"{reasons}",
            UserWarning,
            stacklevel=3,
        )
    if not keep:
        raise ValueError(f"None of the metrics {list(fns)} applies to maps of shape {shape}.")
    return keep
