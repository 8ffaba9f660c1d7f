"""Benchmark: `fit_patterns` time vs `model.predict` time over the same data.

10,000 digit-sized images (scikit-learn's 8x8 digits repeated), the small digits CNN
(`vis.utils.digits.build_digits_cnn`: conv 3x3x16, conv 3x3x32, max-pool, dense 32, dense 10).
Fitting costs one forward pass plus, per Dense/Conv layer, the filter-gradient convolution of its
input with `[1, m, y*m]` (two-component; `[1, y]` linear): the sums of the estimators. Target: fit <= 3x predict. Reports the best of
`--repeats` interleaved runs, in wall time and in CPU time of this process (more stable on a
shared machine), and the forward pass of a compiled `tf.function` for reference
(`model.predict` has a fixed per-call overhead).

Usage:
    python benchmarks/pattern_fit.py [--n 10000] [--batch-size 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vis.pattern import fit_patterns  # noqa: E402
from vis.utils.digits import build_digits_cnn, load_digits  # noqa: E402


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    (x_train, _), (x_test, _) = load_digits()
    pool = np.concatenate([x_train, x_test])
    x = pool[np.arange(args.n) % len(pool)]
    model = build_digits_cnn()
    bs = args.batch_size

    forward = tf.function(lambda a: model(a, training=False),
                          input_signature=[tf.TensorSpec((None, 8, 8, 1), tf.float32)])
    batches = [tf.constant(x[i:i + bs]) for i in range(0, len(x), bs)]

    def run_forward():
        for b in batches:
            forward(b).numpy()

    runs = {
        "predict": lambda: model.predict(x, batch_size=bs, verbose=0),
        "tf.function forward": run_forward,
    }
    for estimator in ("linear", "two_component"):
        for dtype in ("float32", "float64"):
            runs[f"fit {estimator} {dtype}"] = (
                lambda e=estimator, d=dtype: fit_patterns(model, x, e, batch_size=bs,
                                                          verbose=False, dtype=d))
    runs["fit two_component +negative"] = lambda: fit_patterns(
        model, x, batch_size=bs, verbose=False, negative=True)
    for fn in runs.values():  # warm up (tracing, first calls)
        fn()
    wall = {name: float("inf") for name in runs}
    cpu = dict(wall)
    for _ in range(args.repeats):  # interleaved, so that machine noise hits every run alike
        for name, fn in runs.items():
            w, c = _timed(fn)
            wall[name], cpu[name] = min(wall[name], w), min(cpu[name], c)

    print(f"{args.n} images 8x8x1, batch size {bs}, best of {args.repeats} "
          f"({os.cpu_count()} CPUs; CPU time = this process, all threads)")
    print(f"{'':28s} {'wall':>8s} {'ratio':>7s} {'CPU':>8s} {'ratio':>7s}")
    for name in runs:
        print(f"{name:28s} {wall[name]:7.3f}s {wall[name] / wall['predict']:6.2f}x "
              f"{cpu[name]:7.3f}s {cpu[name] / cpu['predict']:6.2f}x")


if __name__ == "__main__":
    main()
