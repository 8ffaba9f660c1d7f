"""Every registered method's throughput against the bare limit, ready for a GPU: one command.

    python benchmarks/gpu_suite.py              # MobileNetV2-224 and ResNet50-224, batch 1/32/128
    python benchmarks/gpu_suite.py --cpu-small  # the 32x32 CNN of the other benchmarks, batch 32
    python benchmarks/gpu_suite.py --cpu-tiny   # a tiny model, one batch size: what CI runs

For every method of `vis.methods` (iterated from the registry: a method registered later is
measured too) on MobileNetV2 and ResNet50 at 224x224 with random weights (no download), at
batch 1, 32 and 128, it prints the images explained per second, the ratio to the bare limit (a
compiled `tf.GradientTape` gradient of one logit, `_common.bare_gradient`, at the same batch
size, timed in turns with the method) and the peak GPU memory of the method (`tf.config.experimental.get_memory_info`; `-` on a
machine without GPU). Single-pass gradient methods should be near 1x; methods that evaluate the
model `k` times per image (Integrated Gradients' steps, SmoothGrad's samples, the
perturbation methods' masks) are near `1/k` of it, and the `settings` column says what `k` is.
PatternNet / PatternAttribution are fitted first (`method.fit` on random data); methods a model
does not support (LRP and PatternNet on BatchNorm networks, for instance) print their reason.

The whole run is bounded: each (model, batch, method) gets one warm-up call (tracing) and at
most `--repeats` timed calls within `--budget` seconds per call, and once `--total` seconds
(default 270: under 5 minutes with start-up) have passed, the remaining combinations are listed
as skipped. Heavy methods run at reduced but realistic settings (see `SETTINGS`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _common import bare_gradient, load, small_cnn  # noqa: E402

import vis  # noqa: E402

# Per-method settings for the GPU run (a method not listed runs with its defaults).
SETTINGS = {
    "integrated_gradients": {"steps": 32},
    "smoothgrad": {"samples": 16},
    "occlusion": {"window": (32, 32), "strides": (32, 32)},
    "rise": {"masks": 256},
    "scorecam": {"max_channels": 64},
    "kernel_shap": {"samples": 128},
    "lime": {"samples": 128},
}
# The tiny CPU run (CI): the fewest evaluations that still exercise each method.
TINY_SETTINGS = {
    "integrated_gradients": {"steps": 4},
    "smoothgrad": {"samples": 4},
    "occlusion": {"window": (4, 4), "strides": (4, 4)},
    "rise": {"masks": 16, "cells": 4},
    "scorecam": {"max_channels": 4},
    "kernel_shap": {"samples": 16},
    "lime": {"samples": 16},
}
# Grid cells (pixels) of feature ablation's groups and of KernelSHAP's / LIME's segments: the
# model evaluations are measured, not scikit-image's SLIC (and not 150k single-pixel passes).
CELL, TINY_CELL = 56, 8


def gpu() -> str | None:
    """`'GPU:0'` where there is a GPU (the device the models run on), else `None`."""
    return "GPU:0" if tf.config.list_logical_devices("GPU") else None


def peak_memory(device: str | None) -> str:
    if device is None:
        return "-"
    return f"{tf.config.experimental.get_memory_info(device)['peak'] / 2 ** 20:,.0f} MiB"


def reset_memory(device: str | None) -> None:
    if device is not None:
        tf.config.experimental.reset_memory_stats(device)


def models(tiny: bool, small: bool = False):
    """`(label, build, batch sizes)` of the models to measure (built one at a time)."""
    if small:
        return [("small_cnn-32", small_cnn, [32])]
    if tiny:
        def tiny_cnn():
            inp = keras.Input((16, 16, 1))
            h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
            h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2")(h)
            h = keras.layers.Flatten()(h)
            out = keras.layers.Dense(3, activation="softmax", name="predictions")(h)
            return keras.Model(inp, out, name="tiny_cnn")

        return [("tiny_cnn", tiny_cnn, [2])]
    return [
        ("MobileNetV2-224", lambda: keras.applications.MobileNetV2(
            weights=None, input_shape=(224, 224, 3)), [1, 32, 128]),
        ("ResNet50-224", lambda: keras.applications.ResNet50(
            weights=None, input_shape=(224, 224, 3)), [1, 32, 128]),
    ]


def method_options(name: str, model: keras.Model, x: np.ndarray, tiny: bool) -> dict:
    """The options a method is measured with (fitted options included)."""
    options = dict((TINY_SETTINGS if tiny else SETTINGS).get(name, {}))
    if name == "occlusion" and x.shape[1] < 64:  # the 32x32 CNN: 16 windows, as 224 / 56
        options.update(window=(8, 8), strides=(8, 8))
    cell = TINY_CELL if tiny or x.shape[1] < 64 else CELL
    h, w = x.shape[1:3]
    grid = ((np.arange(h)[:, None] // cell) * ((w + cell - 1) // cell)
            + np.arange(w) // cell).astype("int64")
    if name == "feature_ablation":
        options["groups"] = np.repeat(grid[:, :, None], x.shape[3], axis=2)
    if name in ("kernel_shap", "lime"):
        options["segments"] = grid
    method = vis.methods.get(name)
    if method.accepts("verbose"):
        options["verbose"] = False
    if method.fit is not None:
        options.update(method.fit(model, x))
    return options


def settings_text(options: dict) -> str:
    shown = {k: v for k, v in options.items()
             if k not in ("verbose", "groups", "segments", "patterns")}
    for key in ("groups", "segments"):
        if key in options:
            shown[key] = f"{int(options[key].max()) + 1} grid cells"
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def timed(fn, repeats: int, budget: float, limit=None) -> tuple[float, float]:
    """Seconds per call of `fn` and of `limit`, timed in turns (a load spike slows both).

    The best of up to `repeats` calls each, stopping once `fn` has taken `budget` seconds.
    """
    best, best_limit, spent = float("inf"), float("inf"), 0.0
    for _ in range(repeats):
        if limit is not None:
            t = time.perf_counter()
            limit()
            best_limit = min(best_limit, time.perf_counter() - t)
        t = time.perf_counter()
        fn()
        took = time.perf_counter() - t
        best, spent = min(best, took), spent + took
        if spent > budget:
            break
    return best, best_limit


def run(tiny: bool, repeats: int, budget: float, total: float, only: list[str] | None,
        small: bool = False) -> list:
    """Measures every model, batch size and method; prints one line each; returns the rows."""
    device = gpu()
    start = time.perf_counter()
    names = [n for n in vis.methods.names() if only is None or n in only]
    print(f"vis {vis.__version__}, TensorFlow {tf.__version__}, Keras {keras.__version__}; "
          f"device: {device or 'CPU only'}; {load()}")
    header = (f"{'model':<16}{'batch':>6}  {'method':<22}{'img/s':>10}{'x bare':>8}"
              f"{'peak mem':>12}  settings")
    print(header)
    print("-" * len(header))
    rows, skipped = [], []
    warnings.simplefilter("ignore")

    def out_of_time() -> bool:
        return time.perf_counter() - start > total

    for label, build, batches in models(tiny, small):
        keras.utils.set_random_seed(0)
        model = build()
        _measure_model(label, model, batches, names, tiny, device, repeats, budget,
                       out_of_time, rows, skipped)
        vis.release(model)
    took = time.perf_counter() - start
    print(f"\n{len([r for r in rows if r[3] is not None])} measurements in {took:.0f} s"
          + (f"; skipped after the {total:.0f} s budget: {', '.join(skipped)}" if skipped
             else ""))
    return rows


def _measure_model(label, model, batches, names, tiny, device, repeats, budget, out_of_time,
                   rows, skipped) -> None:
    shape = tuple(model.inputs[0].shape[1:])
    fit_x = np.random.default_rng(0).uniform(size=(max(batches), *shape)).astype("float32")
    fitted: dict[str, dict] = {}
    failed: dict[str, str] = {}
    bare = bare_gradient(model)

    def add(row) -> None:
        rows.append(row)
        print(_line(row), flush=True)

    for batch in batches:
        x = fit_x[:batch]
        if out_of_time():
            skipped.append(f"{label}/{batch}")
            continue

        def limit(x=x):
            return bare(x).numpy()

        limit()
        reset_memory(device)
        bare_rate = batch / timed(limit, repeats, budget)[0]
        add((label, batch, "bare gradient", bare_rate, 1.0, peak_memory(device), "the limit"))
        for name in names:
            if out_of_time():
                skipped.append(f"{label}/{batch}/{name}")
                continue
            if name in failed:
                add((label, batch, name, None, None, "-", failed[name]))
                continue
            try:
                if name not in fitted:
                    fitted[name] = method_options(name, model, fit_x, tiny)

                def explain(x=x, name=name, options=fitted[name]):
                    return vis.explain(model, x, name, targets=0, **options)

                explain()  # tracing
                reset_memory(device)
                seconds, bare_seconds = timed(explain, repeats, budget, limit)
                rate = batch / seconds
            except ValueError as exc:  # the method does not support this model
                failed[name] = f"n/a: {str(exc).splitlines()[0][:70]}"
                add((label, batch, name, None, None, "-", failed[name]))
                continue
            add((label, batch, name, rate, bare_seconds / seconds, peak_memory(device),
                 settings_text(fitted[name])))


def _line(row) -> str:
    model, batch, name, rate, ratio, memory, settings = row
    rate_text = "-" if rate is None else f"{rate:,.1f}"
    ratio_text = "-" if ratio is None else f"{ratio:.2f}"
    return (f"{model:<16}{batch:>6}  {name:<22}{rate_text:>10}{ratio_text:>8}{memory:>12}  "
            f"{settings}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-tiny", action="store_true",
                        help="a tiny model at batch 2, one timed call each (CI, seconds)")
    parser.add_argument("--cpu-small", action="store_true",
                        help="the 32x32 CNN of the other benchmarks at batch 32 (a CPU table)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls per measurement (default 3; 1 with --cpu-tiny)")
    parser.add_argument("--budget", type=float, default=2.0,
                        help="seconds of timed calls per measurement (default 2)")
    parser.add_argument("--total", type=float, default=270.0,
                        help="seconds after which the remaining measurements are skipped")
    parser.add_argument("--methods", nargs="*", default=None, help="only these methods")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.cpu_tiny else 3)
    run(args.cpu_tiny, repeats, args.budget, args.total, args.methods, args.cpu_small)


if __name__ == "__main__":
    main()
