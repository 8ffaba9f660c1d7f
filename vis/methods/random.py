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
        inputs: A validated batch.
        targets: Unused.
        seed: Seed of the noise. Defaults to `0`.
        output: Unused (any output layer). Defaults to `-1`.
        batch_size: Unused. Defaults to `None`.

    Returns:
        Maps shaped like `inputs` (one per input for a multi-input model).

    Raises:
        ValueError: If `seed` is not None or a non-negative int.

    Example:
        >>> maps = raw(model, x, y, seed=1)
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise ValueError(f"`seed` must be None or a non-negative int, got {seed!r}.")
    rng = np.random.default_rng(seed)
    xs = inputs if isinstance(inputs, list) else [inputs]
    maps = [rng.standard_normal(np.shape(x)).astype(
        np.asarray(x).dtype if np.asarray(x).dtype.kind == "f" else "float32") for x in xs]
    return maps if isinstance(inputs, list) else maps[0]


register(Method(
    "random", raw, family="control", signed=True,
    description="Seeded standard-normal noise: the control a real method must beat.",
))
