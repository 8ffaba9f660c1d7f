"""Backend-neutral fallbacks shared by the JAX and PyTorch adapters (private)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import keras

__all__ = ["identity_patches", "translating_errors"]


def translating_errors(fn: Callable) -> Callable:
    """`fn` whose backend errors (a layer failing inside a compiled call, out of memory) are
    raised as the `ValueError` of `vis.errors.backend_error`, chained to the original; other
    exceptions pass unchanged."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            from vis.errors import backend_error

            err = backend_error(exc)
            if err is None:
                raise
            raise err from exc

    return call


def identity_patches(x, sizes, strides, rates, padding: str):
    """The input patches of a 2-D convolution, by a convolution with an identity kernel.

    Exact: every output value is one input value times 1 plus exact zeros. The patch axis is
    ordered `(row, column, channel)`, as `kernel.reshape(-1, filters)` and
    `tf.image.extract_patches`.

    Args:
        x: A channels-last batch `(N, H, W, C)`.
        sizes: `(kh, kw)`.
        strides: `(sh, sw)`.
        rates: The dilation `(dh, dw)`.
        padding: `'valid'` or `'same'` (TensorFlow's definition).

    Returns:
        `(N, H', W', kh * kw * C)`.
    """
    channels = x.shape[-1]
    depth = math.prod(sizes) * channels
    eye = keras.ops.reshape(keras.ops.eye(depth, dtype=x.dtype), tuple(sizes) + (channels, depth))
    return keras.ops.conv(x, eye, strides=tuple(strides), padding=padding.lower(),
                          dilation_rate=tuple(rates), data_format="channels_last")
