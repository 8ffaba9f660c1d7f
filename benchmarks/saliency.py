"""visualize_saliency (vanilla / guided / deconvnet) against the bare compiled tape gradient.

Prints images/second for a batch of 32 and for one image at a time, and the ratios. Targets:
batched >= 0.8x the bare gradient, guided/deconv within 1.2x of vanilla, single-image calls not
re-tracing. Compares with tf-keras-vis's `Saliency` when that package is installed.

    python benchmarks/saliency.py [--quick]
"""

from __future__ import annotations

import argparse

from _common import bare_gradient, data, images_per_second, mobilenet_v2, small_cnn

from vis import engine
from vis.visualization import visualize_saliency


def bench(model, batch: int, singles: int, repeats: int) -> None:
    x = data(model, batch)
    bare = bare_gradient(model)
    bare_rate = images_per_second(lambda: bare(x).numpy(), batch, repeats)
    print(f"\n{model.name}: {model.count_params():,} params, input {tuple(model.inputs[0].shape)}")
    print(f"  bare compiled tape gradient, batch {batch}: {bare_rate:8.1f} img/s")
    rates = {}
    for modifier in (None, "guided", "relu"):
        rate = images_per_second(
            lambda m=modifier: visualize_saliency(model, -1, 0, x, backprop_modifier=m),
            batch, repeats)
        rates[modifier] = rate
        print(f"  visualize_saliency[{str(modifier):6}] batch {batch}: {rate:8.1f} img/s "
              f"= {rate / bare_rate:.2f}x bare")
    print(f"  guided / vanilla time ratio: {rates[None] / rates['guided']:.2f} "
          f"(target <= 1.2); deconv: {rates[None] / rates['relu']:.2f}")
    one = x[:1]
    bare_one = images_per_second(lambda: bare(one).numpy(), 1, singles)
    single = images_per_second(lambda: visualize_saliency(model, -1, 0, x[0]), 1, singles)
    print(f"  one image at a time: bare {bare_one:.1f} img/s, visualize_saliency {single:.1f} "
          f"img/s = {single / bare_one:.2f}x")
    copy = engine.get_copy(model, None)
    traces = [f.experimental_get_tracing_count() for f in copy.functions.values()]
    print(f"  traces of the compiled saliency function after all calls: {traces}")
    try:
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        print("  tf-keras-vis not installed: no comparison")
        return
    sal = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
    rate = images_per_second(lambda: sal(CategoricalScore([0] * batch), x), batch, repeats)
    print(f"  tf-keras-vis Saliency, batch {batch}: {rate:8.1f} img/s "
          f"(vis is {rates[None] / rate:.2f}x faster)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, small models only")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    bench(small_cnn(), 32, 20 if args.quick else 100, repeats)
    if not args.quick:
        bench(mobilenet_v2(96), 32, 10, 3)


if __name__ == "__main__":
    main()
