"""vis against tf-keras-vis and against the bare limit, method by method, in one run.

For each method both libraries implement (saliency, SmoothGrad, Grad-CAM, Grad-CAM++,
Layer-CAM, Score-CAM) it times vis and tf-keras-vis on the same model, batch and settings, in
turns (`_common.compare`), and prints images/s, vis' speed-up and both ratios to the bare limit
(`_common.bare_gradient`; for methods of `k` passes per image the limit is the bare gradient's
rate divided by `k`). Both sides return maps as their users see them: vis through its keras-vis
API where it has the method (`visualize_*`: normalized maps, like tf-keras-vis' defaults), else
`vis.explain` (raw maps).

tf-keras-vis is not a dependency of vis; run with an environment that has it, e.g.

    PYTHONPATH=$PWD /tmp/tkv/bin/python benchmarks/versus_tf_keras_vis.py [--quick]
"""

from __future__ import annotations

import argparse
import warnings

from _common import bare_gradient, compare, data, load, small_cnn

import vis
from vis.visualization import (
    visualize_cam,
    visualize_saliency,
    visualize_smoothgrad,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    try:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
        from tf_keras_vis.layercam import Layercam
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.scorecam import Scorecam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        print("tf-keras-vis is not installed: nothing to compare (see the module docstring).")
        return
    warnings.simplefilter("ignore")
    import keras

    keras.config.disable_interactive_logging()  # tf-keras-vis' Score-CAM calls model.predict
    model = small_cnn()
    batch = args.batch
    x = data(model, batch)
    score = CategoricalScore([0] * batch)
    layer = "conv2d_2"  # the last convolution of `small_cnn`
    samples = 20
    tkv = {
        "saliency": Saliency(model, model_modifier=ReplaceToLinear(), clone=True),
        "gradcam": Gradcam(model, model_modifier=ReplaceToLinear(), clone=True),
        "gradcam++": GradcamPlusPlus(model, model_modifier=ReplaceToLinear(), clone=True),
        "layercam": Layercam(model, model_modifier=ReplaceToLinear(), clone=True),
        "scorecam": Scorecam(model, model_modifier=ReplaceToLinear(), clone=True),
    }
    channels = int(model.get_layer(layer).output.shape[-1])
    pairs = {
        "saliency": (lambda: visualize_saliency(model, -1, 0, x),
                     lambda: tkv["saliency"](score, x), 1),
        f"SmoothGrad ({samples} samples)": (
            lambda: visualize_smoothgrad(model, -1, 0, x, samples=samples, noise=0.2),
            lambda: tkv["saliency"](score, x, smooth_samples=samples, smooth_noise=0.2),
            samples),
        "Grad-CAM": (lambda: visualize_cam(model, -1, 0, x, penultimate_layer_idx=layer),
                     lambda: tkv["gradcam"](score, x, penultimate_layer=layer), 1),
        "Grad-CAM++": (
            lambda: visualize_cam(model, -1, 0, x, penultimate_layer_idx=layer,
                                  method="gradcam++"),
            lambda: tkv["gradcam++"](score, x, penultimate_layer=layer), 1),
        "Layer-CAM": (
            lambda: vis.explain(model, x, "layercam", 0, layer=layer),
            lambda: tkv["layercam"](score, x, penultimate_layer=layer), 1),
        f"Score-CAM ({channels} channels)": (
            lambda: vis.explain(model, x, "scorecam", 0, layer=layer),
            lambda: tkv["scorecam"](score, x, penultimate_layer=layer), channels),
    }
    bare = bare_gradient(model)
    repeats = 3 if args.quick else 7
    print(f"{model.name}: {model.count_params():,} params, input {tuple(model.inputs[0].shape)}, "
          f"batch {batch} ({load()})")
    print(f"  {'method':<26}{'vis img/s':>11}{'tf-keras-vis':>14}{'vis speed-up':>14}"
          f"{'vis x limit':>13}{'tkv x limit':>13}")
    for name, (ours, theirs, passes) in pairs.items():
        best = compare({"bare": lambda: bare(x).numpy(), "vis": ours, "tkv": theirs}, repeats)
        limit = best["bare"] * passes
        print(f"  {name:<26}{batch / best['vis']:>11.1f}{batch / best['tkv']:>14.1f}"
              f"{best['tkv'] / best['vis']:>13.2f}x{limit / best['vis']:>13.2f}"
              f"{limit / best['tkv']:>13.2f}", flush=True)


if __name__ == "__main__":
    main()
