"""The evaluation table of docs/evaluate.md: every default method x every default metric.

Trains the digits CNN of the tests and the docs (`train_digits_cnn(epochs=15, seed=0)`), runs
`vis.evaluate` on the first 64 test digits (their true labels as targets; PatternNet and
PatternAttribution fitted on the training digits; seed 0; every metric with its defaults), prints
the Markdown table and the time, and writes docs/img/evaluation.png. It also times the batching
promise: one 100-step deletion curve of 32 images is one compiled call of 3232 images.

Run: `python benchmarks/evaluate_digits.py` (about a minute on 2 CPU cores).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vis  # noqa: E402
from vis import engine  # noqa: E402
from vis.utils.digits import train_digits_cnn  # noqa: E402

N = 64
FIGURE = Path(__file__).resolve().parents[1] / "docs" / "img" / "evaluation.png"


def main() -> None:
    model, (x_train, _), (x_test, y_test) = train_digits_cnn(epochs=15, seed=0)
    x, y = x_test[:N], y_test[:N]

    calls = []
    activations = engine.activations

    def counting(*args, **kwargs):
        calls.append(len(args[1]))
        return activations(*args, **kwargs)

    engine.activations = counting
    maps = vis.explain(model, x[:32], "integrated_gradients", y[:32])
    vis.metrics.deletion(model, x[:32], maps, y[:32], steps=100)  # compile
    calls.clear()
    start = time.perf_counter()
    vis.metrics.deletion(model, x[:32], maps, y[:32], steps=100)
    print(f"deletion, 100 steps, 32 images: {time.perf_counter() - start:.3f} s in "
          f"{len(calls)} call(s) of {calls} images")
    engine.activations = activations

    start = time.perf_counter()
    report = vis.evaluate(model, x, y, fit_inputs=x_train, seed=0, verbose=True)
    print(f"vis.evaluate, {len(report.methods)} methods x {len(report.metrics)} metrics on "
          f"{N} digits: {time.perf_counter() - start:.1f} s\n")
    print(report.to_markdown())
    fig = report.plot()
    fig.savefig(FIGURE, dpi=60)
    print(f"wrote {FIGURE} ({FIGURE.stat().st_size // 1024} kB)")


if __name__ == "__main__":
    main()
