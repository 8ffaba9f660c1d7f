"""Shared pieces of the benchmarks: models, the bare compiled gradient, timers.

Numbers on a shared machine are noisy: `compare` times the candidates in turns (round-robin,
so that a load spike slows all of them alike) and keeps each one's best, and every script prints
the load average next to its numbers. Ratios measured inside one run are what counts.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


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


def vgg_like(size=64, classes=1000, name="vgg_like_15m"):
    """A VGG-style CNN with random weights, about 15M parameters (most in the dense head)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((size, size, 3))
    h = inp
    for filters in (64, 128, 256, 256):
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(2048, activation="relu")(h)
    h = keras.layers.Dense(2048, activation="relu")(h)
    out = keras.layers.Dense(classes, activation="softmax", name="predictions")(h)
    return keras.Model(inp, out, name=name)


def load() -> str:
    """The 1-minute load average and the number of cores, e.g. `'load 2.31 on 2 cores'`."""
    try:
        one = os.getloadavg()[0]
    except OSError:
        return "load n/a"
    return f"load {one:.2f} on {os.cpu_count()} cores"


def compare(fns: dict, repeats: int = 7, inner: int = 1, warmup: int = 2) -> dict:
    """Best seconds per call of each function, timed in turns.

    Each round runs every function `inner` times in a row (the mean of those is one sample);
    the rounds go round-robin over the functions, so a load spike from another process slows
    them all alike, and each function keeps its best sample.

    Args:
        fns: `{name: callable}`.
        repeats: Rounds. Defaults to `7`.
        inner: Calls per sample. Defaults to `1`.
        warmup: Untimed calls of each function first (tracing). Defaults to `2`.

    Returns:
        `{name: best seconds per call}`.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for key, fn in fns.items():
            t = time.perf_counter()
            for _ in range(inner):
                fn()
            best[key] = min(best[key], (time.perf_counter() - t) / inner)
    return best


def bare_gradient(model, class_index=0):
    """The baseline: a compiled tape gradient of the pre-softmax logit w.r.t. the input."""
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
