"""Streaming mean and variance in float64: Welford's update and Chan et al.'s parallel merge.

Parameter-space saliency standardizes every filter by its mean and unbiased standard deviation
over a validation set. `RunningMoments` keeps `(count, mean, M2)` per feature, where M2 is the sum of
squared deviations from the mean, so memory does not grow with the data set, batches (or the
moments of batches computed elsewhere, e.g. on the replicas of a `tf.distribute` strategy) can be
merged in any order, and no `E[x^2] - E[x]^2` cancellation occurs.

References:
    B. P. Welford, "Note on a method for calculating corrected sums of squares and products",
    Technometrics 4(3), 1962. T. F. Chan, G. H. Golub, R. J. LeVeque, "Updating formulae and a
    pairwise algorithm for computing sample variances", 1979.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RunningMoments", "batch_moments"]


def batch_moments(samples) -> tuple[int, np.ndarray, np.ndarray]:
    """Count, mean and sum of squared deviations of a batch, in float64.

    Args:
        samples: Array of shape `(n, *features)`.

    Returns:
        `(n, mean, m2)` with `mean` and `m2` of shape `features` (zeros for an empty batch).

    Raises:
        ValueError: If `samples` is a scalar (no batch axis).

    Example:
        >>> n, mean, m2 = batch_moments(np.array([[1.0], [3.0]]))
        >>> (n, float(mean[0]), float(m2[0]))
        (2, 2.0, 2.0)
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim < 1:
        raise ValueError(f"`samples` must have a batch axis; received shape {samples.shape}.")
    n = samples.shape[0]
    if n == 0:
        zeros = np.zeros(samples.shape[1:])
        return 0, zeros, zeros.copy()
    mean = samples.mean(axis=0)
    m2 = np.square(samples - mean).sum(axis=0)
    return n, mean, m2


class RunningMoments:
    """Streaming per-feature mean and variance of a stream of batches (float64, O(1) memory).

    `update` folds in a batch of samples, `update_moments` the `(count, mean, m2)` of a batch
    computed elsewhere, and `merge` another `RunningMoments`; all use Chan et al.'s pairwise
    formula, which reduces to Welford's update for single samples.

    Args:
        shape: Shape of one sample's features. Defaults to `None` (taken from the first batch).

    Attributes:
        count: Number of samples seen.
        mean: Per-feature mean (float64).
        m2: Per-feature sum of squared deviations from the mean (float64).

    Example:
        >>> moments = RunningMoments()
        >>> for batch in np.array_split(np.arange(10.0)[:, None], 3):
        ...     _ = moments.update(batch)
        >>> float(moments.variance(ddof=1)[0]) == float(np.var(np.arange(10.0), ddof=1))
        True
    """

    def __init__(self, shape: tuple | None = None):
        self.count = 0
        self.mean = None if shape is None else np.zeros(shape, dtype=np.float64)
        self.m2 = None if shape is None else np.zeros(shape, dtype=np.float64)

    def update(self, samples) -> RunningMoments:
        """Folds in a batch of samples of shape `(n, *shape)`; returns `self`.

        Args:
            samples: Array-like `(n, *shape)`; an empty batch changes nothing.

        Returns:
            `self`, so that calls can be chained.

        Raises:
            ValueError: If the feature shape differs from the moments seen so far.

        Example:
            >>> moments = RunningMoments().update(np.array([[1.0], [3.0]]))
            >>> moments.count, float(moments.mean[0])
            (2, 2.0)
        """
        return self.update_moments(*batch_moments(samples))

    def update_moments(self, count: int, mean, m2) -> RunningMoments:
        """Folds in the `(count, mean, m2)` of a disjoint batch; returns `self`.

        Use it for moments computed elsewhere (e.g. by `batch_moments` on another worker).

        Args:
            count: Number of samples of the batch (`0` changes nothing).
            mean: Per-feature mean of the batch.
            m2: Per-feature sum of squared deviations from the batch mean.

        Returns:
            `self`, so that calls can be chained.

        Raises:
            ValueError: If `count` is negative or the feature shapes differ.

        Example:
            >>> moments = RunningMoments((1,)).update_moments(*batch_moments([[1.0], [3.0]]))
            >>> moments.count, float(moments.m2[0])
            (2, 2.0)
        """
        count = int(count)
        if count < 0:
            raise ValueError(f"`count` must be >= 0, received {count}.")
        mean = np.asarray(mean, dtype=np.float64)
        m2 = np.asarray(m2, dtype=np.float64)
        if self.mean is None:
            self.mean = np.zeros(mean.shape)
            self.m2 = np.zeros(mean.shape)
        if mean.shape != self.mean.shape or m2.shape != self.mean.shape:
            raise ValueError(
                f"Feature shape mismatch: running moments have shape {self.mean.shape}, the "
                f"batch has mean shape {mean.shape} and m2 shape {m2.shape}."
            )
        if count == 0:
            return self
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        self.m2 = self.m2 + m2 + np.square(delta) * (self.count * count / total)
        self.count = total
        return self

    def merge(self, other: RunningMoments) -> RunningMoments:
        """Folds in the moments of another `RunningMoments` (disjoint samples); returns `self`.

        Args:
            other: Moments of samples not yet seen by `self` (left unchanged).

        Returns:
            `self`, so that calls can be chained.

        Raises:
            ValueError: If the feature shapes differ.

        Example:
            >>> a = RunningMoments().update(np.array([[1.0], [2.0]]))
            >>> b = RunningMoments().update(np.array([[3.0], [4.0]]))
            >>> a.merge(b).count, float(a.mean[0])
            (4, 2.5)
        """
        if other.count == 0:
            return self
        return self.update_moments(other.count, other.mean, other.m2)

    def variance(self, ddof: int = 1) -> np.ndarray:
        """Per-feature variance `m2 / (count - ddof)`.

        Args:
            ddof: Delta degrees of freedom. Defaults to `1` (unbiased).

        Returns:
            A float64 array of the feature shape.

        Raises:
            ValueError: If fewer than `ddof + 1` samples were seen.

        Example:
            >>> moments = RunningMoments().update(np.array([[1.0], [2.0], [3.0], [4.0]]))
            >>> float(moments.variance()[0]), float(moments.variance(ddof=0)[0])
            (1.6666666666666667, 1.25)
        """
        if self.count <= ddof:
            raise ValueError(
                f"The variance with ddof={ddof} needs at least {ddof + 1} samples; "
                f"{self.count} were seen."
            )
        return self.m2 / (self.count - ddof)

    def std(self, ddof: int = 1) -> np.ndarray:
        """Per-feature standard deviation `sqrt(variance(ddof))`.

        Args:
            ddof: Delta degrees of freedom. Defaults to `1` (unbiased).

        Returns:
            A float64 array of the feature shape.

        Raises:
            ValueError: If fewer than `ddof + 1` samples were seen.

        Example:
            >>> moments = RunningMoments().update(np.array([[1.0], [3.0]]))
            >>> float(moments.std()[0]) == float(np.std([1.0, 3.0], ddof=1))
            True
        """
        return np.sqrt(self.variance(ddof))
