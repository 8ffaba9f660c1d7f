"""Regenerates the documentation figures in docs/img/ (small PNGs, committed).

Usage:
    python docs/make_figures.py          # full settings (~2 minutes on 2 CPU cores)
    python docs/make_figures.py --fast   # quick check that every figure can be drawn

It runs `vis demo` into a temporary folder (methods grid, signal quality, PSS, sanity checks) and
draws one figure per method page from the same trained digits CNN. The method pages and the
methods of their figures come from the `vis.methods` registry: `docs/methods/<page>.md` whose
name is a registered name or alias gets `img/<page>.png`, the page's method next to the other
registered methods of its family.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

DOCS = Path(__file__).resolve().parent
IMG = DOCS / "img"
sys.path.insert(0, str(DOCS.parent))

FROM_DEMO = {
    "methods.png": "methods_grid.png",
    "signal_quality.png": "signal_quality.png",
    "pss_profile.png": "pss_profile.png",
    "pss_input.png": "pss_input.png",
    "sanity_curves.png": "sanity_curves.png",
    "sanity_maps.png": "sanity_maps.png",
}



def page_figures() -> dict[str, list[str]]:
    """`figure file -> methods` for every method page: the page's method, then its family's.

    Returns:
        E.g. `{"gradcam.png": ["gradcam", "gradcam_plus_plus", "guided_gradcam"], ...}` (pages
        that name no registered method, such as activation maximization, have none).
    """
    from vis import methods

    table = methods.table()
    figures = {}
    for page in sorted((DOCS / "methods").glob("*.md")):
        if page.stem not in methods.REGISTRY:
            continue
        method = methods.get(page.stem)
        family = [row["name"] for row in table
                  if row["family"] == method.family and row["name"] != method.name]
        figures[f"{page.stem}.png"] = [method.name, *family]
    return figures


def _save(fig, name: str, dpi: int = 90) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(IMG / name, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    print(f"docs/img/{name}", file=sys.stderr)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="shrunk settings")
    args = parser.parse_args(argv)

    import matplotlib.pyplot as plt
    import numpy as np

    from vis.demo import method_maps, pick_examples, plot_method_grid, run_demo
    from vis.utils.digits import train_digits_cnn
    from vis.visualization import visualize_activation

    IMG.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        run_demo(tmp, fast=args.fast, seed=0, verbose=True)
        for src, dst in FROM_DEMO.items():
            shutil.copyfile(Path(tmp) / src, IMG / dst)
            print(f"docs/img/{dst}", file=sys.stderr)

    model, (x_train, _), (x_test, y_test) = train_digits_cnn(epochs=8 if args.fast else 15, seed=0)
    idx = pick_examples(model, x_test, y_test, 4)
    x, y = x_test[idx], y_test[idx]
    figures = page_figures()
    needed = list(dict.fromkeys(m for methods in figures.values() for m in methods))
    maps = method_maps(model, x, y, methods=needed, fit_data=x_train,
                       smoothgrad_samples=16 if args.fast else 50)
    for name, methods in figures.items():
        fig = plot_method_grid(x, {m: maps[m] for m in methods}, [f"y={k}" for k in y])
        _save(fig, name)

    iters = 40 if args.fast else 300
    images = [visualize_activation(model, "predictions", k, input_range=(0.0, 1.0),
                                   max_iter=iters, seed=k) for k in range(10)]
    predicted = model.predict(np.stack(images), verbose=0).argmax(-1)
    fig, axes = plt.subplots(1, 10, figsize=(10, 1.4))
    for k, ax in enumerate(axes):
        ax.imshow(images[k][..., 0], cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"class {k} -> {predicted[k]}", fontsize=7)
        ax.axis("off")
    _save(fig, "activation_maximization.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
