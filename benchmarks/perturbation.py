"""Occlusion, RISE and Score-CAM throughput against the bare compiled forward pass.

Prints perturbed inputs evaluated per second by occlusion and RISE (`vis.explain`, masks built,
scored and accumulated) next to a bare `tf.function(model)` forward at batch 256 on the same
model, and the ratio (target >= 0.8x). Compares Score-CAM with tf-keras-vis's `Scorecam` when
that package is importable (target: vis >= 5x faster), and checks that both maps agree.

    python benchmarks/perturbation.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import tensorflow as tf
from _common import data, mobilenet_v2, small_cnn

import vis


def interleaved(fns: dict, repeats: int) -> dict:
    """Best wall-clock and CPU seconds of each function, timed in turns.

    Timing in turns makes a loaded machine slow all of them alike; CPU time (of this process,
    all threads) is the steadier measure when other processes compete for the cores.
    """
    for fn in fns.values():
        fn()  # warm-up: tracing
    wall = dict.fromkeys(fns, float("inf"))
    cpu = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for key, fn in fns.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            wall[key] = min(wall[key], time.perf_counter() - t)
            cpu[key] = min(cpu[key], time.process_time() - c)
    return {"wall": wall, "cpu": cpu}


def bench(model, repeats: int, quick: bool) -> None:
    print(f"\n{model.name}: {model.count_params():,} params, input {tuple(model.inputs[0].shape)}")
    forward = tf.function(model)
    batch = data(model, 256)
    x = data(model, 2 if quick else 4, seed=1)
    y = np.zeros(len(x), "int64")
    size = model.inputs[0].shape[1]
    masks = 1000 if quick else 2000
    windows = (-(-(size - 4) // 2) + 1) ** 2  # window 4, stride 2
    runs = {
        "occlusion window 4 stride 2": ("occlusion", dict(window=4, strides=2),
                                        len(x) * (windows + 1)),
        f"rise {masks} masks": ("rise", dict(masks=masks, cells=7), len(x) * masks),
    }
    print("  inputs evaluated per second by vis.explain vs the bare tf.function(model) forward "
          "at batch 256:")
    for label, (method, options, n_perturbed) in runs.items():
        for batch_size in (None, 256):
            times = interleaved({
                "bare": lambda: forward(batch).numpy(),
                "vis": lambda m=method, o=options, b=batch_size: vis.explain(
                    model, x, m, y, batch_size=b, verbose=False, **o),
            }, repeats)
            ratios = []
            for clock in ("wall", "cpu"):
                bare = 256 / times[clock]["bare"]
                rate = n_perturbed / times[clock]["vis"]
                ratios.append(f"{clock} {rate:7.0f}/s vs {bare:7.0f}/s = {rate / bare:.2f}x")
            print(f"  {label:28} batch_size={str(batch_size):4}: " + "; ".join(ratios)
                  + " (target >= 0.8x)")
    scorecam(model, data(model, 8 if quick else 16, seed=2), repeats)


def scorecam(model, x, repeats: int) -> None:
    y = np.zeros(len(x), "int64")
    cams = vis.explain(model, x, "scorecam", y)
    ours = lambda: vis.explain(model, x, "scorecam", y, verbose=False)  # noqa: E731
    try:
        from tf_keras_vis.scorecam import Scorecam
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError as exc:
        t = interleaved({"vis": ours}, repeats)["wall"]["vis"]
        print(f"  vis scorecam, {len(x)} images: {t:.3f} s; tf-keras-vis not importable "
              f"({exc}): no comparison")
        return
    sc = Scorecam(model)

    def theirs(batch_size):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(sc(CategoricalScore(list(y)), x, penultimate_layer=-1,
                                 batch_size=batch_size))

    times = interleaved({"vis": ours, 32: lambda: theirs(32), 256: lambda: theirs(256)},
                        max(2, repeats // 2))
    wall, cpu = times["wall"], times["cpu"]
    print(f"  vis scorecam, {len(x)} images: {wall['vis']:.2f} s wall, {cpu['vis']:.2f} s CPU")
    for batch_size in (32, 256):
        ref = theirs(batch_size)
        agree = (f"correlation of the maps {np.corrcoef(ref.ravel(), cams.ravel())[0, 1]:.3f}"
                 if ref.std() > 0 else "tf-keras-vis's maps are constant (all zero)")
        print(f"  tf-keras-vis Scorecam (batch_size={batch_size}): {wall[batch_size]:.2f} s wall, "
              f"{cpu[batch_size]:.2f} s CPU: vis is {wall[batch_size] / wall['vis']:.1f}x "
              f"(wall) / {cpu[batch_size] / cpu['vis']:.1f}x (CPU) faster (target >= 5); "
              f"{agree}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and inputs")
    args = parser.parse_args()
    bench(small_cnn(), 3 if args.quick else 7, args.quick)
    if not args.quick:
        model = mobilenet_v2(96)
        print(f"\n{model.name}: Score-CAM at its last conv layer (1280 channels)")
        scorecam(model, data(model, 2, seed=2), 2)


if __name__ == "__main__":
    main()
