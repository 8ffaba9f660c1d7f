"""Tiny fixed-weight models with gradients known in closed form, and NumPy references."""

from __future__ import annotations

import keras
import numpy as np


def dense_linear(n_in: int = 5, n_out: int = 3, softmax: bool = False, seed: int = 0):
    """y = x W + b (optionally softmax), with seeded weights. Returns (model, W, b)."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(n_in, n_out)).astype("float32")
    b = rng.normal(size=(n_out,)).astype("float32")
    inp = keras.Input((n_in,))
    out = keras.layers.Dense(n_out, activation="softmax" if softmax else None, name="out")(inp)
    model = keras.Model(inp, out)
    model.get_layer("out").set_weights([W, b])
    return model, W, b


def dense_relu(n_in: int = 6, n_hidden: int = 4, n_out: int = 3, seed: int = 0):
    """y = relu(x W1 + b1) W2 + b2 as a Sequential model. Returns (model, W1, b1, W2, b2)."""
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(n_in, n_hidden)).astype("float32")
    b1 = rng.normal(size=(n_hidden,)).astype("float32") * 0.5
    W2 = rng.normal(size=(n_hidden, n_out)).astype("float32")
    b2 = rng.normal(size=(n_out,)).astype("float32")
    model = keras.Sequential(
        [keras.Input((n_in,)), keras.layers.Dense(n_hidden, activation="relu", name="hidden"),
         keras.layers.Dense(n_out, name="out")]
    )
    model.set_weights([W1, b1, W2, b2])
    return model, W1, b1, W2, b2


def conv_valid_np(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """'valid' stride-1 cross-correlation of one (H, W, C) image with an HWIO kernel."""
    kh, kw, _, co = k.shape
    H, W, _ = x.shape
    out = np.zeros((H - kh + 1, W - kw + 1, co))
    for i in range(H - kh + 1):
        for j in range(W - kw + 1):
            out[i, j] = np.tensordot(x[i:i + kh, j:j + kw], k, axes=3)
    return out


def conv_valid_backward_np(g: np.ndarray, k: np.ndarray, in_shape) -> np.ndarray:
    """Gradient w.r.t. the input of `conv_valid_np` given the output gradient `g`."""
    kh, kw, _, _ = k.shape
    gx = np.zeros(in_shape)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            gx[i:i + kh, j:j + kw] += np.tensordot(k, g[i, j], axes=([3], [0]))
    return gx


def small_relu_convnet(relu_kind: str = "fused", seed: int = 0):
    """(6, 6, 1) -> Conv2D(3, 3x3 valid) + ReLU variant -> Flatten -> Dense(2).

    `relu_kind`: 'fused' (activation='relu'), 'layer' (ReLU()), 'activation'
    (Activation('relu')), 'relu6' (ReLU(6.)), 'none' (tanh: no rectifier).
    Returns (model, K, bk, V, bv).
    """
    rng = np.random.default_rng(seed)
    K = rng.normal(size=(3, 3, 1, 3)).astype("float32")
    bk = rng.normal(size=(3,)).astype("float32") * 0.3
    V = rng.normal(size=(4 * 4 * 3, 2)).astype("float32")
    bv = rng.normal(size=(2,)).astype("float32")
    inp = keras.Input((6, 6, 1))
    act = {"fused": "relu", "none": "tanh"}.get(relu_kind)
    h = keras.layers.Conv2D(3, 3, activation=act, name="conv")(inp)
    if relu_kind == "layer":
        h = keras.layers.ReLU(name="relu")(h)
    elif relu_kind == "activation":
        h = keras.layers.Activation("relu", name="relu")(h)
    elif relu_kind == "relu6":
        h = keras.layers.ReLU(6.0, name="relu")(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(2, name="out")(h)
    model = keras.Model(inp, out)
    model.get_layer("conv").set_weights([K, bk])
    model.get_layer("out").set_weights([V, bv])
    return model, K, bk, V, bv


def small_convnet_gradient_np(x, K, bk, V, k, mode="vanilla", relu6=False):
    """NumPy input gradient of `small_relu_convnet` output `k` for one image, per mode."""
    z = conv_valid_np(x.astype("float64"), K.astype("float64")) + bk
    g_a = V[:, k].reshape(z.shape)  # d out / d relu(z)
    if relu6:
        mask = (z > 0) & (z < 6)
    else:
        mask = z > 0
    if mode == "vanilla":
        g_z = g_a * mask
    elif mode == "guided":
        g_z = np.maximum(g_a, 0) * mask
    elif mode == "deconv":
        g_z = np.maximum(g_a, 0)
    else:
        raise ValueError(mode)
    return conv_valid_backward_np(g_z, K.astype("float64"), x.shape)
