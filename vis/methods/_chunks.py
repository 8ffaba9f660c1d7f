"""How many copies of the inputs (noisy samples, path points, perturbations) go into one
compiled call, and the chunks that stream them (private; shared by the noise tunnel, Integrated
Gradients and the perturbation methods)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["BATCH_BYTES", "pieces", "copies_per_call"]

# Copies per call by default: about this many bytes of them.
BATCH_BYTES = 64 * 2**20


def copies_per_call(arrays: Sequence[np.ndarray], count: int) -> int:
    """`max(count, 64)` copies of one sample of `arrays`, within about `BATCH_BYTES`.

    Args:
        arrays: One batch per model input (the per-sample size is `shape[1:]`, at least 4 bytes
            a value).
        count: The copies each sample needs (noise draws, path steps).

    Example:
        >>> copies_per_call([np.zeros((2, 8, 8, 1), "float32")], 50)
        64
    """
    row = max(1, sum(int(np.prod(a.shape[1:])) * max(a.dtype.itemsize, 4) for a in arrays))
    return max(1, min(max(count, 64), BATCH_BYTES // row))


def pieces(counts: Sequence[int], size: int) -> Iterator[list[tuple[int, int, int]]]:
    """Chunks of `size` copies over all inputs: lists of `(input, start, stop)`.

    Input `i` needs `counts[i]` copies; a chunk takes whole inputs when they fit and splits an
    input's copies over several chunks otherwise.

    Example:
        >>> list(pieces([3, 2], 4))
        [[(0, 0, 3), (1, 0, 1)], [(1, 1, 2)]]
    """
    chunk, room = [], size
    for i, count in enumerate(counts):
        k = 0
        while k < count:
            take = min(room, count - k)
            chunk.append((i, k, k + take))
            k, room = k + take, room - take
            if room == 0:
                yield chunk
                chunk, room = [], size
    if chunk:
        yield chunk
