"""A seeded random map: the control every evaluation and sanity check compares against.

A method that does no better than `random` on a faithfulness metric tells nothing about the
model. The map is standard-normal noise, independent of the model.
"""

from __future__ import annotations

import numpy as np

from vis.methods._base import Method, register

__all__ = ["raw"]


def raw(model, inputs, targets, *, seed: int | None = 0, output=-1,
        batch_size: int | None = None):
    """Standard-normal noise shaped like the input (the same seed, the same maps).

    Args:
        model: Unused (any model).
        inputs: A validated batch (a list of batches for a multi-input model).
        targets: Unused.
        seed: Seed of the noise. Defaults to `0`.
        output: Unused (any output layer). Defaults to `-1`.
        batch_size: Unused. Defaults to `None`.

    Returns:
        Maps shaped like `inputs` (one per input for a multi-input model), float.

    Raises:
        ValueError: If `seed` is not None or a non-negative int.

    Example:
        >>> maps = raw(model, x, y, seed=1)
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise ValueError(f"`seed` must be None or a non-negative int, got {seed!r}.")
    rng = np.random.default_rng(seed)
    if isinstance(inputs, (list, tuple)):  # a multi-input model: noise for every input
        return [_noise(rng, np.asarray(x)) for x in inputs]
    return _noise(rng, np.asarray(inputs))


def _noise(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    return rng.standard_normal(x.shape).astype(x.dtype if x.dtype.kind == "f" else "float32")


register(Method(
    "random", raw, family="control", signed=True,
    description="Seeded standard-normal noise: the control a real method must beat.",
))
