"""SmoothGrad (n samples), `smooth=` and Integrated Gradients (n steps) against n x the bare gradient.

Each must cost about n gradient evaluations done in large vectorized batches: the printed ratio
is (images/s of the method) / (images/s of the bare compiled gradient at a large batch / n),
timed in turns with the bare gradient (`_common.compare`) so that a loaded machine slows both
alike; target >= 0.7 for n = 50 on a small CNN and on a MobileNetV2-sized model. `smooth=`
(`vis.explain`'s noise tunnel, here over the gradient and guided backprop) must keep its ratio.
Compares with tf-keras-vis's `Saliency(smooth_samples=n)` when that package is installed.

    python benchmarks/smoothgrad_ig.py [--quick]
"""

from __future__ import annotations

import argparse

from _common import bare_gradient, compare, data, load, mobilenet_v2, small_cnn

import vis
from vis.visualization import visualize_integrated_gradients, visualize_smoothgrad


def bench(model, n_images: int, n: int, repeats: int) -> None:
    x = data(model, n_images)
    bare = bare_gradient(model)
    big = data(model, min(n * n_images, 256))
    smooth = {"samples": n, "seed": 0}
    fns = {
        "bare": lambda: bare(big).numpy(),
        "SmoothGrad (visualize_smoothgrad)": lambda: visualize_smoothgrad(
            model, -1, 0, x, samples=n, seed=0, batch_size=256),
        "Integrated Gradients": lambda: visualize_integrated_gradients(
            model, -1, 0, x, steps=n, batch_size=256),
        "vis.explain(gradient, smooth=)": lambda: vis.explain(
            model, x, "gradient", 0, smooth=smooth, batch_size=256),
        "vis.explain(guided_backprop, smooth=)": lambda: vis.explain(
            model, x, "guided_backprop", 0, smooth=smooth, batch_size=256),
    }
    try:
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore

        sal = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
        fns[f"tf-keras-vis Saliency(smooth_samples={n})"] = lambda: sal(
            CategoricalScore([0] * n_images), x, smooth_samples=n, smooth_noise=0.15)
    except ImportError:
        pass
    best = compare(fns, repeats, warmup=1)
    bound = len(big) / best.pop("bare") / n
    print(f"\n{model.name}: {n_images} images, n = {n} ({load()})")
    print(f"  bound: bare compiled gradient / n = {bound:8.2f} img/s")
    for name, seconds in best.items():
        rate = n_images / seconds
        print(f"  {name:<44} {rate:8.2f} img/s = {rate / bound:.2f}x bound (target >= 0.7)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small CNN only, fewer repeats")
    args = parser.parse_args()
    bench(small_cnn(), 8, 50, 3 if args.quick else 5)
    if not args.quick:
        bench(mobilenet_v2(96), 4, 50, 2)


if __name__ == "__main__":
    main()
