"""Warnings shared by every method: all-zero and non-finite maps are never returned silently."""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["ZeroMapWarning", "NaNMapWarning", "warn_if_degenerate"]


class ZeroMapWarning(UserWarning):
    """Warned when a map is all zero (dead units, a Grad-CAM zeroed by its ReLU, ...).

    Maps are returned as zeros (never NaN) with this warning, which names the method and the
    samples concerned. Filter it with the `warnings` module to silence it or make it an error.

    Example:
        >>> import warnings
        >>> from vis.errors import ZeroMapWarning
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", ZeroMapWarning)
        ...     cams = vis.explain(model, x, "gradcam")
    """


class NaNMapWarning(UserWarning):
    """Warned when a map holds NaN or inf values (an overflow or a non-differentiable point).

    Example:
        >>> import warnings
        >>> from vis.errors import NaNMapWarning
        >>> warnings.simplefilter("error", NaNMapWarning)  # make it an error
    """


def warn_if_degenerate(maps: np.ndarray, what: str, stacklevel: int = 3, where: str = "") -> None:
    """Warns when some samples' maps are all zero (`ZeroMapWarning`) or not finite (`NaNMapWarning`).

    Args:
        maps: A batch of maps `(N, ...)`.
        what: The method's name for the message.
        stacklevel: Passed to `warnings.warn`. Defaults to `3`.
        where: Which maps, e.g. `" of input 'image'"`. Defaults to `""`.

    Example:
        >>> warn_if_degenerate(np.zeros((2, 3)), "gradient")  # warns: samples [0, 1]
    """
    flat = np.asarray(maps).reshape(len(maps), -1)
    bad = np.flatnonzero(~np.isfinite(flat).all(axis=1))
    if bad.size:
        warnings.warn(
            f"Method {what!r} gave maps{where} with NaN or inf values for sample(s) "
            f"{bad.tolist()[:10]}.",
            NaNMapWarning, stacklevel=stacklevel,
        )
    zero = np.flatnonzero(~np.any(flat != 0, axis=1))
    if zero.size:
        warnings.warn(
            f"Method {what!r} gave an all-zero map{where} for sample(s) {zero.tolist()[:10]} (e.g. dead "
            "ReLU units, or a target with no active path for this input); returned as zeros.",
            ZeroMapWarning, stacklevel=stacklevel,
        )
