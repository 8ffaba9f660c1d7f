"""RISE (Petsiuk et al. 2018): random masks weighted by the class probability they keep.

Paper: "RISE: Randomized Input Sampling for Explanation of Black-box Models",
https://arxiv.org/abs/1806.07421. `masks` binary grids of `cells x cells` cells, each kept with
probability `p`, are bilinearly upsampled to `(cells + 1) * ceil(H / cells)` pixels (half-pixel
centres, edges clamped) and cropped at a random shift of less than one cell, giving smooth masks
`M_i` in [0, 1]. The map is `S = sum_i f_c(x * M_i) M_i / (N p)` with `f_c` the target's
probability (the softmax of the output's pre-softmax scores). Every random draw comes from
`seed`; the grids (one byte per cell) and shifts are drawn up front and the full-size masks are
built and evaluated `batch_size` at a time, so memory is bounded by `batch_size`, not by `masks`.
More than `vis.utils.checks.MAX_COPIES` masked images, or grids over `MAX_BYTES`, are refused up
front.
"""

from __future__ import annotations

import math

import numpy as np

from vis.methods._base import Method, register
from vis.methods._perturb import (
    Evaluator,
    as_inputs,
    bilinear_matrix,
    channel_axis_of,
    check_seed,
    expand_spatial,
    map_dtype,
    not_an_image,
    positive_int,
    select_inputs,
    spatial_axes,
)
from vis.utils import checks

__all__ = ["raw", "MaskSampler"]


class MaskSampler:
    """RISE's masks: seeded cell grids and shifts, upsampled on demand `batch` masks at a time.

    Args:
        size: The image's spatial shape `(H, W)`.
        n: The number of masks.
        cells: Cells per side of the grid.
        p: The probability of keeping a cell.
        seed: The seed of the grids and shifts.

    Example:
        >>> sampler = MaskSampler((8, 8), n=100, cells=4, p=0.5, seed=0)
        >>> sampler(slice(0, 10)).shape
        (10, 8, 8)
    """

    def __init__(self, size: tuple[int, int], n: int, cells: int, p: float, seed: int | None):
        rng = np.random.default_rng(seed)
        cell = [math.ceil(s / cells) for s in size]
        self.size = tuple(size)
        # booleans, 1 byte per cell, drawn a chunk at a time (the same draws as at once)
        step = max(1, 2**22 // (cells * cells))
        self.grids = np.concatenate([rng.random((min(step, n - a), cells, cells)) < p
                                     for a in range(0, n, step)]) if n else \
            np.zeros((0, cells, cells), bool)
        self.shifts = [rng.integers(0, c, n) for c in cell]
        self.resize = [bilinear_matrix(cells, (cells + 1) * c).astype("float32") for c in cell]

    def __call__(self, sl: slice) -> np.ndarray:
        """Masks `sl.start .. sl.stop - 1`, float32 `(B, H, W)`."""
        rows, cols = (r[s[sl, None] + np.arange(n)]
                      for r, s, n in zip(self.resize, self.shifts, self.size))
        return rows @ self.grids[sl].astype("float32") @ cols.transpose(0, 2, 1)


def _probability(value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
            or not 0 < float(value) <= 1:
        raise ValueError(f"`p` must be a number in (0, 1], got {value!r}.")
    return float(value)


def raw(model, inputs, targets, *, output=-1, masks: int = 4000, cells: int = 7,
        p: float = 0.5, seed: int | None = 0, input=None, batch_size: int | None = None,
        verbose: bool | None = None) -> np.ndarray:
    """RISE maps: random masks weighted by the target probability of the masked image.

    Args:
        model: A Keras image model (never modified).
        inputs: A validated batch of images `(N, H, W, C)`.
        targets: One class index per sample.
        output: The output layer whose probability weights the masks: the softmax of its
            pre-softmax scores (an output ending in a sigmoid: its value). Defaults to `-1`.
        masks: The number of random masks `N`. Defaults to `4000` (the paper's ResNet-50
            setting).
        cells: Cells per side of the random grid. Defaults to `7`.
        p: The probability of keeping a cell, in (0, 1]. Defaults to `0.5`.
        seed: The seed of the masks (the same for every image). Defaults to `0`.
        input: The model input to mask (an index or name), for a model with several inputs.
            Defaults to `None` (the model's image input; a model with several image inputs
            needs `input=`).
        batch_size: Masked images per compiled call (it bounds the memory). Defaults to `None`
            (about 64 MB).
        verbose: Progress bar: `None` (when the work should take more than 2 s), `True` or
            `False`. Defaults to `None`.

    Returns:
        Non-negative maps `(N, H, W)` of the masked image input: the expected probability of
        the target when a pixel is kept (the other inputs of a multi-input model keep their
        values).

    Raises:
        ValueError: Bad `masks`, `cells`, `p` or `seed`, more than
            `vis.utils.checks.MAX_COPIES` masked images or grids over `MAX_BYTES`, inputs that
            are not images, or an `input` that is not an image (or several image inputs and no
            `input`).

    Example:
        >>> maps = raw(model, x, y, masks=1000, cells=4, seed=0)
    """
    masks = positive_int(masks, "masks")
    cells = positive_int(cells, "cells")
    p = _probability(p)
    seed = check_seed(seed)
    xs, _ = as_inputs(inputs)
    index = select_inputs(model, xs, input, "rise", not_an_image, one=True)[0]
    x = xs[index]
    axes = spatial_axes(model, x, "rise")
    if len(axes) != 2:
        raise ValueError(f"rise explains images (N, H, W, C); got inputs of shape {x.shape}.")
    caxis = channel_axis_of(model, x)
    checks.work(masks * len(x), "masks", masks, "masked copies of the inputs")
    checks.memory(masks * cells * cells, "masks", masks, f"{masks:,} grids of {cells} x {cells} "
                  "cells")
    checks.memory(max(x.shape[a] for a in axes) * 2 * (cells + 1) * cells * 4 + cells * cells
                  * 8, "cells", cells, "upsampling matrices")
    sampler = MaskSampler(tuple(x.shape[a] for a in axes), masks, cells, p, seed)
    maps = np.zeros((len(x),) + sampler.size, dtype="float64")
    pending = {}  # the masks of the chunk being scored

    def masked(i: int, sl: slice) -> np.ndarray:
        pending[i, sl.start] = m = sampler(sl)
        return x[i] * expand_spatial(m, x, caxis)

    def accumulate(i: int, sl: slice, probs: np.ndarray) -> None:
        maps[i] += np.tensordot(probs, pending.pop((i, sl.start)), axes=1)

    ev = Evaluator(model, xs if len(xs) > 1 else x, targets, output=output, probability=True,
                   input_index=index, batch_size=batch_size, verbose=verbose, desc="rise",
                   work=("masks", masks))
    ev.run([masks] * len(x), masked, accumulate)
    return (maps / (masks * p)).astype(map_dtype(x))


register(Method(
    "rise", raw, family="perturbation", signed=False, output="spatial",
    description="Random smooth masks weighted by the target probability of the masked image.",
    paper="Petsiuk et al. 2018, https://arxiv.org/abs/1806.07421",
))
