"""Benchmark: `ParameterSaliency.fit` throughput vs a compiled per-sample loop doing the same work.

Both models output logits, so both sides compute the same cross-entropy. The baseline is what
the reference implementation does: one gradient per sample (a
`tf.function`-compiled single-sample tape, input signature fixed, called in a Python loop) and a
Welford update per sample. `fit` computes the same per-sample gradients batched ("patches": one
forward/backward pass per batch; "vmap": `tf.vectorized_map`). Both must give the same statistics
(to 1e-6 relative). Prints samples/s (best of `--repeats`) and the speed-up ratios.

Run: `python benchmarks/pss_fit.py [--repeats 3] [--n 512]`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import time

import keras
import numpy as np
import tensorflow as tf

from vis.pss import ParameterSaliency, RunningMoments
from vis.utils.digits import train_digits_cnn


def per_sample_loop_stats(model, x, y, repeats):
    """The baseline: a compiled single-sample gradient, called once per sample, Welford stats."""
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    spec = tf.TensorSpec((1, *x.shape[1:]), tf.float32)

    @tf.function(input_signature=[spec, tf.TensorSpec((1,), tf.int64)])
    def one(xi, yi):
        with tf.GradientTape() as tape:
            outputs = model(xi, training=False)
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(yi, outputs))
        grads = tape.gradient(loss, kernels)
        return tf.concat([tf.reduce_mean(tf.abs(g), axis=(0, 1, 2)) for g in grads], axis=0)

    one(x[:1], y[:1])  # trace once, outside the timing
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        moments = RunningMoments()
        for i in range(len(x)):
            moments.update(one(x[i:i + 1], y[i:i + 1]).numpy()[None])
        best = min(best, time.perf_counter() - start)
    return best, moments.mean, moments.std(ddof=1)


def batched_mean_gradient_seconds(model, x, y, batch_size, repeats):
    """For scale: one backward pass per batch of the summed loss. NOT per-sample gradients, so not
    a valid way to compute the statistics, but roughly the cost of a batched forward/backward."""
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    spec = tf.TensorSpec((None, *x.shape[1:]), tf.float32)

    @tf.function(input_signature=[spec, tf.TensorSpec((None,), tf.int64)])
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(yb, model(xb)))
        return tape.gradient(loss, kernels)

    step(x[:batch_size], y[:batch_size])
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(0, len(x), batch_size):
            [g.numpy() for g in step(x[i:i + batch_size], y[i:i + batch_size])]
        best = min(best, time.perf_counter() - start)
    return best


def timed_fit(model, x, y, method, batch_size, repeats):
    psal = ParameterSaliency(model, gradient_method=method)
    psal.fit(x[:batch_size], y[:batch_size], batch_size=batch_size, verbose=False)  # trace
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        psal.fit(x, y, batch_size=batch_size, verbose=False)
        best = min(best, time.perf_counter() - start)
    return best, psal.mean_, psal.std_


def bigger_cnn(seed: int = 0):
    """A slightly bigger CNN on 32x32x3 inputs (three 3x3 convolutions, 32-64 filters), logits."""
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((32, 32, 3))
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu",
                            kernel_initializer=init(seed))(inputs)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu",
                            kernel_initializer=init(seed + 1))(h)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(64, 3, padding="same", activation="relu",
                            kernel_initializer=init(seed + 2))(h)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Flatten()(h)
    outputs = keras.layers.Dense(10, kernel_initializer=init(seed + 3))(h)
    return keras.Model(inputs, outputs, name="cnn32")


def relative(a, b) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-30)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=512, help="samples of the 32x32x3 case")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    model, _, (x_test, y_test) = train_digits_cnn(epochs=3, seed=0, softmax=False)
    rng = np.random.default_rng(0)
    cases = [
        ("digits CNN 8x8x1 (16+32 filters)", model, x_test, y_test),
        ("CNN 32x32x3 (32+32+64 filters)", bigger_cnn(),
         rng.random((args.n, 32, 32, 3), dtype=np.float32), rng.integers(0, 10, args.n)),
    ]
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"devices: {[d.device_type for d in tf.config.list_logical_devices()]}")
    for name, net, x, y in cases:
        loop_s, loop_mean, loop_std = per_sample_loop_stats(net, x, y, args.repeats)
        print(f"\n{name}: {len(x)} samples")
        print(f"  per-sample compiled loop : {len(x) / loop_s:9.0f} samples/s")
        bound_s = batched_mean_gradient_seconds(net, x, y, args.batch_size, args.repeats)
        print(f"  (for scale: batched summed gradient, not per-sample: {len(x) / bound_s:9.0f} "
              f"samples/s, x{loop_s / bound_s:.1f})")
        for method in ("patches", "vmap"):
            fit_s, mean, std = timed_fit(net, x, y, method, args.batch_size, args.repeats)
            print(f"  fit(gradient_method={method!r:9}): {len(x) / fit_s:9.0f} samples/s  "
                  f"speed-up x{loop_s / fit_s:6.1f}  max rel. diff mean {relative(mean, loop_mean):.1e}"
                  f" std {relative(std, loop_std):.1e}")


if __name__ == "__main__":
    main()
