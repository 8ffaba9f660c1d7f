"""Draws the figures of the guide "Explaining any model" (docs/guides/model_coverage.md).

Usage:
    python docs/make_coverage_figures.py          # full settings (about a minute on 2 CPU cores)
    python docs/make_coverage_figures.py --fast   # shrunk training: checks the figures can be drawn

The data and models are those of the example notebooks 07 (text), 08 (image + metadata) and 09
(time series): their code cells are run from `examples/build_notebooks.py` up to the training
cell, so the figures and the notebooks show the same models. Writes `docs/img/coverage_tokens.png`,
`coverage_series.png` and `coverage_features.png`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

IMG = Path(__file__).resolve().parent / "img"
REPO = IMG.parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples"))


def notebook_namespace(name: str, until: str) -> dict:
    """Runs the code cells of notebook `name` up to the first one containing `until`."""
    from build_notebooks import NOTEBOOKS

    namespace = {"__name__": f"__{name}__"}
    for kind, source in NOTEBOOKS[name]:
        if kind != "code":
            continue
        code = "\n".join(line for line in source.splitlines() if not line.startswith("%"))
        exec(compile(code, name, "exec"), namespace)  # our own notebook cells
        if until in source:
            return namespace
    raise ValueError(f"no code cell of {name!r} contains {until!r}")


def _save(fig, name: str, dpi: int = 90) -> None:
    fig.savefig(IMG / name, dpi=dpi, bbox_inches="tight")
    print(f"docs/img/{name}: {(IMG / name).stat().st_size / 1000:.0f} kB", file=sys.stderr)


def tokens_figure():
    """IG of three reviews of the text notebook, explained towards 'positive'."""
    import numpy as np
    from matplotlib.figure import Figure

    import vis
    from vis.utils import plot_tokens

    ns = notebook_namespace("07_text_classifier", "model.fit(")
    x_test, words, probs = ns["x_test"], ns["WORDS"], ns["model"].predict(ns["x_test"], verbose=0)
    shown = [1, 2, 5]
    ig = vis.explain(ns["model"], x_test[shown], "integrated_gradients", 1, baseline_token=0,
                     steps=64)
    fig = Figure(figsize=(6.4, 1.9))
    axes = fig.subplots(len(shown), 1)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.86, bottom=0.01, hspace=0.2)
    vmax = float(np.abs(ig).max())
    for ax, i, row in zip(axes, shown, ig):
        plot_tokens(x_test[i], row, ax=ax, vocabulary=words, skip=[0], vmax=vmax, width=54,
                    fontsize=9)
    axes[0].set_title("Integrated Gradients towards 'positive' (red: for, blue: against)",
                      fontsize=9)
    print("token figure: p(positive) =", probs[shown, 1].round(2), file=sys.stderr)
    _save(fig, "coverage_tokens.png")


def series_figure():
    """IG (per channel) and Grad-CAM (per step) of a 'bump' series of the time-series notebook."""
    import numpy as np
    from matplotlib.figure import Figure

    import vis
    from vis.utils import plot_series

    ns = notebook_namespace("09_time_series_classifier", "model.fit(")
    model, x_test, y_test, centres = ns["model"], ns["x_test"], ns["y_test"], ns["c_test"]
    i = int(np.flatnonzero(y_test == 1)[0])
    ig = vis.explain(model, x_test[i], "integrated_gradients", 1, steps=64)
    cam = vis.explain(model, x_test[i], "gradcam", 1, layer="conv2")
    fig = Figure(figsize=(7.0, 3.6), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    names = ["sensor", "reference"]
    plot_series(x_test[i], ig, ax=axes[:2], feature_names=names)
    fig.colorbar(axes[0].images[0], ax=axes[:2], label="IG", fraction=0.04, pad=0.01)
    plot_series(x_test[i], cam, ax=axes[2], feature_names=names, signed=False)
    fig.colorbar(axes[2].images[0], ax=axes[2], label="Grad-CAM", fraction=0.04, pad=0.01)
    for ax in axes:
        ax.axvline(centres[i], color="k", ls=":", lw=1)
    axes[0].set_title("class 'bump': IG per channel, Grad-CAM per step (dotted: the bump)",
                      fontsize=9)
    _save(fig, "coverage_series.png")


def features_figure():
    """The metadata attributions of both heads of the two-input notebook's model."""
    import numpy as np
    from matplotlib.figure import Figure

    import vis
    from vis.utils import plot_features

    ns = notebook_namespace("08_two_input_model", "model.fit(")
    model, features = ns["model"], ns["FEATURES"]
    xs = [ns["img_test"][:200], ns["meta_test"][:200]]
    ig_cls = vis.explain(model, xs, "integrated_gradients", ns["y_test"][:200],
                         output="class_head", steps=64)
    ig_reg = vis.explain(model, xs, "integrated_gradients", 0, output="reg_head", steps=64)
    fig = Figure(figsize=(8.0, 2.2))
    axes = fig.subplots(1, 2)
    plot_features(np.abs(ig_cls[1]).mean(0), features, ax=axes[0],
                  title="class head: mean |IG| of the metadata")
    plot_features(ig_reg[1][0], features, ax=axes[1], title="regression head: one sample")
    fig.tight_layout()
    _save(fig, "coverage_features.png")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="shrunk training (VIS_FAST=1)")
    args = parser.parse_args(argv)
    os.environ["VIS_FAST"] = "1" if args.fast else "0"
    IMG.mkdir(exist_ok=True)
    tokens_figure()
    series_figure()
    features_figure()
    return 0


if __name__ == "__main__":
    sys.exit(main())
