"""Tiny models and independent references for the vis.pss tests (not a test module)."""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf


def reference_saliency(model, x, y, kernels, reductions, logits: bool = True) -> np.ndarray:
    """Per-sample saliency by a Python loop of single-sample tapes on `model` (no vectorization).

    `kernels` are variables of `model`; `reductions[i]` maps `|dL/dW_i|` (kernel-shaped NumPy) to
    a 1-D vector of that kernel's columns.
    """
    rows = []
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            outputs = model(x[i:i + 1], training=False)
            if logits:
                loss = tf.nn.sparse_softmax_cross_entropy_with_logits(y[i:i + 1], outputs)
            else:
                loss = keras.losses.sparse_categorical_crossentropy(y[i:i + 1], outputs)
        grads = tape.gradient(loss, kernels)
        rows.append(np.concatenate([reduce(np.abs(g.numpy())) for reduce, g in
                                    zip(reductions, grads)]))
    return np.array(rows)


def filter_mean(g: np.ndarray) -> np.ndarray:
    """Mean over every axis but the last (Conv HWIO filters, Dense units)."""
    return g.reshape(-1, g.shape[-1]).mean(axis=0)


def assert_close_1e6(actual, expected) -> None:
    """Equal to 1e-6 relative to the largest value (float32 round-off across orderings)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6 * scale)


@functools.cache
def hand_model():
    """Conv2D(2 filters, 2x2, tanh) -> GlobalAveragePooling2D -> Dense(3, softmax), fixed weights.

    Small enough to differentiate by hand (see `hand_saliency`).
    """
    inputs = keras.Input((4, 4, 1))
    h = keras.layers.Conv2D(2, 2, activation="tanh", name="conv")(inputs)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(h)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(7)
    model.set_weights([
        rng.normal(size=(2, 2, 1, 2)).astype("float32"),
        np.array([0.1, -0.2], "float32"),
        rng.normal(size=(2, 3)).astype("float32") * 2,
        np.array([0.3, 0.0, -0.3], "float32"),
    ])
    return model


def hand_saliency(model, x: np.ndarray, y: np.ndarray):
    """Analytic per-sample |dL/dW| of `hand_model` in float64: (conv filter means, dense unit
    means, conv |dL/dW| kernel-shaped)."""
    w, b, v, c = (np.asarray(a, np.float64) for a in model.get_weights())
    conv_rows, dense_rows, full = [], [], []
    for image, label in zip(x.astype(np.float64), y):
        # z[i, j, f] = sum_ab image[i + a, j + b] w[a, b, 0, f] + b[f]
        z = np.zeros((3, 3, 2))
        for i in range(3):
            for j in range(3):
                z[i, j] = np.tensordot(image[i:i + 2, j:j + 2, 0], w[:, :, 0, :], axes=2) + b
        h = np.tanh(z)
        g = h.mean(axis=(0, 1))
        logits = g @ v + c
        p = np.exp(logits - logits.max())
        p /= p.sum()
        dlogits = p - np.eye(3)[label]
        dv = np.outer(g, dlogits)
        dg = v @ dlogits
        dz = dg[None, None, :] * (1.0 - h**2) / 9.0
        dw = np.zeros_like(w)
        for a in range(2):
            for bb in range(2):
                dw[a, bb, 0, :] = np.tensordot(image[a:a + 3, bb:bb + 3, 0], dz, axes=([0, 1],
                                                                                      [0, 1]))
        conv_rows.append(np.abs(dw).mean(axis=(0, 1, 2)))
        dense_rows.append(np.abs(dv).mean(axis=0))
        full.append(np.abs(dw))
    return np.array(conv_rows), np.array(dense_rows), np.array(full)


@functools.cache
def smooth_float64_model():
    """A float64 CNN with smooth activations (tanh, softplus) and no pooling ties."""
    inputs = keras.Input((6, 6, 1), dtype="float64")
    h = keras.layers.Conv2D(3, 3, activation="tanh", dtype="float64", name="c1",
                            kernel_initializer=keras.initializers.GlorotUniform(1))(inputs)
    h = keras.layers.Conv2D(4, 2, strides=2, activation="softplus", dtype="float64", name="c2",
                            kernel_initializer=keras.initializers.GlorotUniform(2))(h)
    h = keras.layers.Flatten(dtype="float64")(h)
    outputs = keras.layers.Dense(3, activation="softmax", dtype="float64", name="out",
                                 kernel_initializer=keras.initializers.GlorotUniform(3))(h)
    return keras.Model(inputs, outputs)


def conv_variants_model(kind: str):
    """Models exercising padding, strides, dilation and ranks of the 'patches' rule."""
    init = keras.initializers.GlorotUniform
    if kind == "1d":
        inputs = keras.Input((12, 2))
        h = keras.layers.Conv1D(3, 3, strides=2, padding="same", activation="relu",
                                kernel_initializer=init(1), bias_initializer="ones")(inputs)
        h = keras.layers.Conv1D(4, 3, dilation_rate=2, padding="causal",
                                kernel_initializer=init(2))(h)
        h = keras.layers.BatchNormalization(beta_initializer="ones",
                                            moving_variance_initializer="zeros")(h)
        h = keras.layers.Activation("tanh")(h)
        h = keras.layers.Conv1D(2, 2, padding="valid", kernel_initializer=init(3))(h)
    elif kind == "2d":
        inputs = keras.Input((9, 9, 2))
        h = keras.layers.Conv2D(3, 3, strides=2, padding="same", activation="relu",
                                kernel_initializer=init(1), bias_initializer="ones")(inputs)
        h = keras.layers.Conv2D(4, (2, 3), dilation_rate=(1, 2), padding="same",
                                activation="tanh", kernel_initializer=init(2))(h)
        h = keras.layers.Conv2D(2, 3, strides=(2, 1), padding="valid",
                                kernel_initializer=init(3))(h)
    else:
        inputs = keras.Input((6, 6, 5, 1))
        h = keras.layers.Conv3D(2, 3, strides=2, padding="same", activation="relu",
                                kernel_initializer=init(1), bias_initializer="ones")(inputs)
        h = keras.layers.Conv3D(3, 2, dilation_rate=(1, 1, 2), padding="same",
                                activation="tanh", kernel_initializer=init(2))(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(5, activation="relu", kernel_initializer=init(4), name="hidden")(h)
    outputs = keras.layers.Dense(3, kernel_initializer=init(5), name="logits")(h)
    return keras.Model(inputs, outputs)


def exotic_conv_model():
    """Transposed, depthwise and separable convolutions (gradient_method='vmap' only)."""
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((5, 5, 2))
    h = keras.layers.Conv2DTranspose(3, 3, strides=2, activation="tanh", name="tconv",
                                     kernel_initializer=init(1))(inputs)
    h = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, activation="tanh", name="dconv",
                                     depthwise_initializer=init(2))(h)
    h = keras.layers.SeparableConv2D(4, 3, depth_multiplier=2, activation="tanh", name="sconv",
                                     depthwise_initializer=init(3),
                                     pointwise_initializer=init(4))(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    outputs = keras.layers.Dense(3, kernel_initializer=init(5), name="logits")(h)
    return keras.Model(inputs, outputs)


def random_data(shape, n: int, n_classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *shape)).astype("float32"), rng.integers(0, n_classes, n)
