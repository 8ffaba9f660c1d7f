"""SmoothGrad (n samples) and Integrated Gradients (n steps) against n x the bare gradient.

Both must cost about n gradient evaluations done in large vectorized batches: the printed ratio is
(images/s of the method) / (images/s of the bare compiled gradient at a large batch / n); target
>= 0.7 for n = 50 on a small CNN and on a MobileNetV2-sized model. Compares with tf-keras-vis's
`Saliency(smooth_samples=n)` when that package is installed.

    python benchmarks/smoothgrad_ig.py [--quick]
"""

from __future__ import annotations

import argparse

from _common import bare_gradient, data, images_per_second, mobilenet_v2, small_cnn

from vis.visualization import visualize_integrated_gradients, visualize_smoothgrad


def bench(model, n_images: int, n: int, repeats: int) -> None:
    x = data(model, n_images)
    bare = bare_gradient(model)
    big = data(model, min(n * n_images, 256))
    bound = images_per_second(lambda: bare(big).numpy(), len(big), repeats) / n
    print(f"\n{model.name}: {n_images} images, n = {n}")
    print(f"  bound: bare compiled gradient / n = {bound:8.2f} img/s")
    sg = images_per_second(
        lambda: visualize_smoothgrad(model, -1, 0, x, samples=n, seed=0, batch_size=256),
        n_images, repeats)
    ig = images_per_second(
        lambda: visualize_integrated_gradients(model, -1, 0, x, steps=n, batch_size=256),
        n_images, repeats)
    print(f"  SmoothGrad:           {sg:8.2f} img/s = {sg / bound:.2f}x bound (target >= 0.7)")
    print(f"  Integrated Gradients: {ig:8.2f} img/s = {ig / bound:.2f}x bound (target >= 0.7)")
    try:
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        print("  tf-keras-vis not installed: no comparison")
        return
    sal = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
    rate = images_per_second(
        lambda: sal(CategoricalScore([0] * n_images), x, smooth_samples=n, smooth_noise=0.15),
        n_images, repeats)
    print(f"  tf-keras-vis Saliency(smooth_samples={n}): {rate:8.2f} img/s "
          f"(vis SmoothGrad is {sg / rate:.2f}x faster)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small CNN only, fewer repeats")
    args = parser.parse_args()
    bench(small_cnn(), 8, 50, 2 if args.quick else 3)
    if not args.quick:
        bench(mobilenet_v2(96), 4, 50, 2)


if __name__ == "__main__":
    main()
