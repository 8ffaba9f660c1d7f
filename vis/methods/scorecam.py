"""Score-CAM (Wang et al. 2020): feature maps weighted by the probability they alone keep.

Paper: "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks",
https://arxiv.org/abs/1910.01279, Algorithm 1 as tf-keras-vis implements it. Each channel `A_k`
of `layer` is bilinearly upsampled to the input (half-pixel centres) and min-max normalized to a
mask `H_k` in [0, 1] (a constant channel gives a zero mask); its weight is the target's
probability on the masked input, `alpha_k = softmax(logits(x * H_k))_c`, and the map is
`ReLU(sum_k alpha_k A_k)`, upsampled. `max_channels` keeps each image's channels of largest mean
activation (tf-keras-vis's `max_N`, Faster Score-CAM; `rank_by="std"` ranks by spread as
tf-keras-vis does). Masks are built `batch_size` at a time and evaluated in compiled batches;
channels with the same mask (a constant map, or maps equal up to scale and offset, frequent in
sparse ReLU layers) are evaluated once.
"""

from __future__ import annotations

import numpy as np

from vis import engine
from vis.methods._base import Method, register
from vis.methods._perturb import (
    Evaluator,
    as_inputs,
    channel_axis_of,
    expand_spatial,
    map_dtype,
    not_an_image,
    positive_int,
    select_inputs,
    spatial_axes,
)
from vis.methods.gradcam import feature_layer
from vis.methods.gradcam import upsample as upsample_maps

__all__ = ["raw", "normalized_masks", "RANKS"]

RANKS = ("mean", "std")


def normalized_masks(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Upsamples `(B, h, w)` maps to `size` and min-max scales each to [0, 1].

    A constant map gives a zero mask.

    Example:
        >>> normalized_masks(np.array([[[0., 2.], [4., 6.]]]), (2, 2))
        array([[[0.        , 0.33333333],
                [0.66666667, 1.        ]]])
    """
    up = upsample_maps(np.ascontiguousarray(maps, dtype="float32"), size).astype("float64")
    lo = up.min(axis=(1, 2), keepdims=True)
    span = up.max(axis=(1, 2), keepdims=True) - lo
    constant = np.ptp(maps.reshape(len(maps), -1), axis=1) == 0
    span[constant] = 1.0
    out = (up - lo) / np.where(span > 0, span, 1.0)
    out[constant] = 0.0
    return out


def _distinct(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Channels `(h, w, K)` of identical min-max normalized maps: `(representatives, inverse)`.

    Example:
        >>> a = np.stack([np.eye(2), 3 * np.eye(2) + 1, np.ones((2, 2))], -1)
        >>> [r.tolist() for r in _distinct(a)]
        [[0, 2], [0, 0, 1]]
    """
    flat = maps.reshape(-1, maps.shape[-1]).T.astype("float64")
    lo = flat.min(axis=1, keepdims=True)
    span = flat.max(axis=1, keepdims=True) - lo
    norm = (flat - lo) / np.where(span > 0, span, 1.0)
    _, first, inverse = np.unique(norm, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # representatives in channel order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.reshape(-1)]


def raw(model, inputs, targets, *, output=-1, layer=None, max_channels: int | None = None,
        rank_by: str = "mean", upsample: bool = True, input=None,
        batch_size: int | None = None, verbose: bool | None = None) -> np.ndarray:
    """Score-CAM maps: feature maps weighted by the target probability of their masked input.

    Args:
        model: A Keras image model with a convolutional layer (never modified).
        inputs: A validated batch of images `(N, H, W, C)` (a list of batches for a
            multi-input model).
        targets: One class index per sample.
        output: The output layer whose probability weights the channels: the softmax of its
            pre-softmax scores (an output ending in a sigmoid: its value). Defaults to `-1`.
        layer: The convolutional layer. Defaults to `None` (the last layer with a spatial
            output).
        max_channels: Keep only each image's `max_channels` channels of largest `rank_by`
            (the others get weight 0). Defaults to `None` (all channels).
        rank_by: `"mean"` (mean activation) or `"std"` (tf-keras-vis's `max_N`). Defaults to
            `"mean"`.
        upsample: Upsample the maps to the input's spatial shape. Defaults to `True` (`False`:
            the layer's resolution).
        input: The image input that the upsampled feature maps mask (an index or name), for a
            model with several inputs (the others keep their values). Defaults to `None` (the
            model's image input; a model with several image inputs needs `input=`).
        batch_size: Masked images per compiled call. Defaults to `None` (about 64 MB).
        verbose: Progress bar: `None` (when the work should take more than 2 s), `True` or
            `False`. Defaults to `None`.

    Returns:
        Non-negative maps `(N, H, W)` (or `(N, h, w)` with `upsample=False`).

    Raises:
        ValueError: Unknown or non-spatial layers, bad `max_channels` or `rank_by`, inputs
            that are not images, or an `input` that is not an image (or several image inputs
            and no `input`).

    Example:
        >>> cams = raw(model, x, y, layer="conv2", max_channels=16)
    """
    xs, _ = as_inputs(inputs)
    index = select_inputs(model, xs, input, "scorecam", not_an_image, one=True)[0]
    x = xs[index]
    feed = xs if len(xs) > 1 else x
    axes = spatial_axes(model, x, "scorecam")
    if len(axes) != 2:
        raise ValueError(f"scorecam explains images (N, H, W, C); got inputs of shape {x.shape}.")
    if rank_by not in RANKS:
        raise ValueError(f"`rank_by` must be one of {list(RANKS)}, got {rank_by!r}.")
    if not isinstance(upsample, (bool, np.bool_)):
        raise TypeError(f"`upsample` must be True or False, got {upsample!r}.")
    path, layer_caxis = feature_layer(model, output, layer, what="Score-CAM")
    acts = engine.activations(model, feed, path, batch_size=batch_size)
    if layer_caxis == 1:
        acts = np.moveaxis(acts, 1, -1)
    if acts.ndim != 4:
        raise ValueError(f"`layer`: {path!r} has output shape {acts.shape[1:]}; Score-CAM "
                         "needs a 2-D feature map (h, w, channels).")
    n, channels = len(x), acts.shape[-1]
    chosen = np.tile(np.arange(channels), (n, 1))
    if max_channels is not None and positive_int(max_channels, "max_channels") < channels:
        stat = acts.mean(axis=(1, 2)) if rank_by == "mean" else acts.std(axis=(1, 2))
        chosen = np.sort(np.argsort(-stat, axis=1, kind="stable")[:, :max_channels], axis=1)
    constant = np.ptp(acts.reshape(n, -1, channels), axis=1) == 0  # (n, K): zero masks
    live = [c[~constant[i, c]] for i, c in enumerate(chosen)]
    # Channels whose maps are equal up to scale and offset give the same mask (upsampling is
    # linear and preserves constants): evaluate one of them.
    unique = [_distinct(acts[i][..., c]) for i, c in enumerate(live)]
    size = tuple(x.shape[a] for a in axes)
    caxis = channel_axis_of(model, x)

    def masked(i: int, sl: slice) -> np.ndarray:
        picked = live[i][unique[i][0][sl]]
        masks = normalized_masks(np.moveaxis(acts[i][..., picked], -1, 0), size)
        return x[i] * expand_spatial(masks.astype(x.dtype), x, caxis)

    ev = Evaluator(model, feed, targets, output=output, probability=True, input_index=index,
                   batch_size=batch_size, verbose=verbose, desc="scorecam")
    alpha = np.zeros((n, channels))
    for i, scores in enumerate(ev.run([len(u[0]) for u in unique], masked)):
        alpha[i, live[i]] = scores[unique[i][1]]
    dead = [i for i in range(n) if np.any(constant[i, chosen[i]])]
    if dead:  # a zero mask zeroes the input: one evaluation per image serves all its channels
        zero = ev.run([1 if i in dead else 0 for i in range(n)],
                      lambda i, sl: np.zeros_like(x[i:i + 1]))
        for i in dead:
            alpha[i, chosen[i][constant[i, chosen[i]]]] = zero[i][0]
    cams = np.maximum(np.einsum("nhwk,nk->nhw", acts.astype("float64"), alpha), 0.0)
    cams = cams.astype(map_dtype(x))
    return upsample_maps(cams, size) if upsample else cams


register(Method(
    "scorecam", raw, family="cam", signed=False, output="spatial", aliases=("score_cam",),
    description="Feature maps weighted by the target probability of the input they mask.",
    paper="Wang et al. 2020, https://arxiv.org/abs/1910.01279",
))
