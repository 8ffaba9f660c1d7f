"""Run by test_distributed.py as two processes: one worker each of a MultiWorkerMirroredStrategy.

`TF_CONFIG` (set by the test) names both workers on localhost. Each worker explains its share
of the batches (every second batch) into `.npz` shards numbered by global batch; the test joins
the shards and compares them with the maps on one device.

    TF_CONFIG=... python multiworker_check.py OUT_DIR
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy()

import keras  # noqa: E402
import numpy as np  # noqa: E402

import vis  # noqa: E402


def main() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    x = np.random.default_rng(0).normal(size=(200, 8, 8, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(32)
    paths = vis.explain(model, dataset, strategy=strategy, verbose=False,
                        output_file=os.path.join(sys.argv[1], "maps-{shard:03d}.npz"))
    print("WROTE", " ".join(os.path.basename(p) for p in paths))


if __name__ == "__main__":
    main()
