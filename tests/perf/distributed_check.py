"""Run in a fresh process by test_distributed.py: explanations under a MirroredStrategy.

Two logical CPUs must be configured before TensorFlow initializes its devices, hence a separate
process. Checks that the maps (and fitted patterns) with `strategy=` equal those on one device,
and prints one JSON line.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import vis  # noqa: E402
from vis.pattern import fit_patterns  # noqa: E402


def cnn():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax", name="out"),
    ])


def main() -> None:
    out_dir = sys.argv[1]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 200)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    checks = {"replicas": strategy.num_replicas_in_sync}
    model = cnn()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)  # 64, 64, 64, 8
    for method, options in (("gradient", {}), ("integrated_gradients", {"steps": 8}),
                            ("gradcam", {}), ("guided_backprop", {})):
        alone = np.concatenate(list(vis.explain(model, dataset, method, verbose=False,
                                                **options)))
        shared = np.concatenate(list(vis.explain(model, dataset, method, verbose=False,
                                                 strategy=strategy, **options)))
        checks[f"dataset {method}"] = bool(np.array_equal(alone, shared))
    checks["in memory, predicted"] = bool(np.array_equal(
        vis.explain(model, x[:33], strategy=strategy), vis.explain(model, x[:33])))
    checks["in memory, targets"] = bool(np.array_equal(
        vis.explain(model, x[:33], "gradient_x_input", y[:33], strategy=strategy),
        vis.explain(model, x[:33], "gradient_x_input", y[:33])))
    path = vis.explain(model, dataset, strategy=strategy, verbose=False,
                       output_file=os.path.join(out_dir, "maps.npy"))
    checks["npy"] = bool(np.array_equal(np.load(path), vis.explain(model, x, targets=y)))
    with strategy.scope():  # a model whose variables are mirrored on both devices
        mirrored = cnn()
    checks["mirrored variables"] = bool(np.array_equal(
        np.concatenate(list(vis.explain(mirrored, dataset, strategy=strategy, verbose=False))),
        vis.explain(model, x, targets=y)))
    plain = fit_patterns(model, x, batch_size=64, verbose=False, dtype="float64")
    split = fit_patterns(model, x, batch_size=64, verbose=False, dtype="float64",
                         strategy=strategy)
    checks["fit_patterns(strategy=)"] = all(
        np.allclose(split[k], plain[k], rtol=1e-9, atol=1e-12) for k in plain)
    print(json.dumps(checks))


if __name__ == "__main__":
    main()
