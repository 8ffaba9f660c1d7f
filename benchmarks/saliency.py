"""Saliency (vanilla / guided / deconvnet) against the bare compiled tape gradient, in one run.

Every number is a ratio measured in turns against the bare limit (`_common.bare_gradient`: one
compiled `tf.GradientTape` gradient of one pre-softmax logit, called on the NumPy batch and
converted back to NumPy), so that a loaded machine slows both alike. Targets (issue 15):

- batch-32 vanilla `visualize_saliency` (default arguments: absolute value, channel max,
  normalization) >= 0.9x the bare limit on the small CNN;
- one image at a time with the default arguments >= 0.6x;
- a 15M-parameter model (`_common.vgg_like`) at batch 8 >= 0.85x;
- guided backprop and deconvnet: their ratio kept (they run the same hot path).

Also prints `vis.explain` (raw maps; with `targets=None` it adds the forward pass that finds
the predicted class), `jit_compile=True` (XLA), and tf-keras-vis' `Saliency` when that package
is importable (`PYTHONPATH=$PWD /tmp/tkv/bin/python benchmarks/saliency.py`).

    python benchmarks/saliency.py [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import bare_gradient, compare, data, load, small_cnn, vgg_like

import vis
from vis import engine
from vis.visualization import visualize_saliency


def _tf_keras_vis(model):
    try:
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return None
    sal = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
    return lambda x: sal(CategoricalScore([0] * len(x)), x)


def _row(name: str, seconds: float, n: int, bare: float) -> None:
    print(f"  {name:<44} {n / seconds:9.1f} img/s  {bare / seconds:5.2f}x bare")


def bench_batch(model, batch: int, repeats: int, modifiers=(None, "guided", "deconvnet"),
                jit: bool = True) -> dict:
    x = data(model, batch)
    bare = bare_gradient(model)
    fns = {"bare": lambda: bare(x).numpy()}
    for m in modifiers:
        fns[f"visualize_saliency[{m}]"] = (
            lambda m=m: visualize_saliency(model, -1, 0, x, backprop_modifier=m))
    fns["vis.explain(gradient, targets=0)"] = lambda: vis.explain(model, x, targets=0)
    if jit and hasattr(engine, "options"):  # (absent before issue 15: the baseline runs)
        fns["visualize_saliency[None] jit_compile=True"] = (
            lambda: _jit(lambda: visualize_saliency(model, -1, 0, x)))
    tkv = _tf_keras_vis(model)
    if tkv is not None:
        fns["tf-keras-vis Saliency"] = lambda: tkv(x)
    best = compare(fns, repeats)
    print(f"\n{model.name}: {model.count_params():,} params, input "
          f"{tuple(model.inputs[0].shape)}, batch {batch} ({load()})")
    for name, seconds in best.items():
        _row(name, seconds, batch, best["bare"])
    return {k: best["bare"] / v for k, v in best.items()}


def _jit(fn):
    with engine.options(jit_compile=True):
        return fn()


def bench_single(model, repeats: int, inner: int) -> dict:
    x = data(model, 1)
    bare = bare_gradient(model)
    one = x[0]
    fns = {
        "bare": lambda: bare(x).numpy(),
        "visualize_saliency (default args)": lambda: visualize_saliency(model, -1, 0, one),
        "vis.explain (default args, targets=None)": lambda: vis.explain(model, one),
        "vis.explain(targets=0)": lambda: vis.explain(model, one, targets=0),
    }
    best = compare(fns, repeats, inner=inner)
    print(f"\n{model.name}: one image at a time ({load()})")
    for name, seconds in best.items():
        _row(name, seconds, 1, best["bare"])
    copy = engine.get_copy(model, None)
    traces = [f.experimental_get_tracing_count() for f in copy.functions.values()]
    print(f"  traces of the compiled functions after all calls: {traces}")
    return {k: best["bare"] / v for k, v in best.items()}


def check_equal(model) -> None:
    """The in-graph post-processing gives the NumPy post-processing's numbers."""
    from vis.visualization._postprocess import finish

    x = data(model, 4)
    fast = visualize_saliency(model, -1, 0, x)
    raw = visualize_saliency(model, -1, 0, x, grad_modifier=None, normalize=False,
                             keepdims=True)
    slow = finish(raw, False, "absolute", False, True, -1)
    print(f"  in-graph post-processing == NumPy: {bool(np.array_equal(fast, slow))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 5 if args.quick else 15
    small = small_cnn()
    check_equal(small)
    r32 = bench_batch(small, 32, repeats)
    r1 = bench_single(small, repeats, 10 if args.quick else 30)
    big = vgg_like()
    r8 = bench_batch(big, 8, max(3, repeats // 2), modifiers=(None,), jit=False)
    print("\nsummary (targets: batch 32 >= 0.9, one image >= 0.6, 15M params batch 8 >= 0.85)")
    print(f"  batch 32 vanilla {r32['visualize_saliency[None]']:.2f}x, guided "
          f"{r32['visualize_saliency[guided]']:.2f}x, deconvnet "
          f"{r32['visualize_saliency[deconvnet]']:.2f}x; one image "
          f"{r1['visualize_saliency (default args)']:.2f}x (vis.explain "
          f"{r1['vis.explain (default args, targets=None)']:.2f}x); 15M params batch 8 "
          f"{r8['visualize_saliency[None]']:.2f}x")


if __name__ == "__main__":
    main()
