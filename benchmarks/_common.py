"""Shared pieces of the benchmarks: models, the bare compiled gradient, a timer."""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def small_cnn(input_shape=(32, 32, 3), classes=10):
    keras.utils.set_random_seed(0)
    inp = keras.Input(input_shape)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inp)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(128, activation="relu")(h)
    out = keras.layers.Dense(classes, activation="softmax", name="predictions")(h)
    return keras.Model(inp, out, name="small_cnn")


def mobilenet_v2(size=96):
    """MobileNetV2 with random weights (no download): ReLU(6.) layers, BatchNorm, 2.2M params."""
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(weights=None, input_shape=(size, size, 3), classes=10)


def bare_gradient(model, class_index=0):
    """The baseline: a compiled tape gradient of the pre-softmax logit w.r.t. the input."""
    import tensorflow as tf

    last = model.layers[-1]
    logits_model = keras.Model(model.inputs[0], last.input)
    W, b = last.kernel, last.bias
    spec = tf.TensorSpec((None,) + tuple(model.inputs[0].shape[1:]), tf.float32)

    @tf.function(input_signature=[spec])
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            h = logits_model(x, training=False)
            score = tf.reduce_sum(tf.matmul(h, W)[:, class_index] + b[class_index])
        return tape.gradient(score, x)

    return grad


def images_per_second(fn, n_images: int, repeats: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n_images / best


def data(model, n, seed=0):
    shape = tuple(model.inputs[0].shape[1:])
    return np.random.default_rng(seed).uniform(size=(n,) + shape).astype("float32")
