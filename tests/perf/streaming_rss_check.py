"""Run in a fresh process by test_streaming.py: 4096 images streamed to a `.npy` file.

A separate process, so that the peak resident memory measured is this stream's alone. The
images are made inside the `tf.data` pipeline (never held in memory), 96x96x3 each: the maps
take 432 MiB on disk, more than the 300 MB growth allowed, so holding them would fail. After
the measurement, the file is compared with in-memory `vis.explain` on the same images.

    python streaming_rss_check.py OUT_DIR  ->  one JSON line
"""

import json
import os
import resource
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import vis  # noqa: E402

SIZE, N, BATCH = 96, 4096, 64


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    out_dir = sys.argv[1]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax"),
    ])

    def image(i):
        return tf.random.stateless_uniform((SIZE, SIZE, 3), seed=tf.stack([i, tf.constant(7, tf.int64)]))

    dataset = tf.data.Dataset.range(N).map(image).batch(BATCH)
    for first in dataset.take(1):  # compile and warm up before measuring
        vis.explain(model, first.numpy())
    before = peak_mib()
    path = vis.explain(model, dataset, output_file=os.path.join(out_dir, "maps.npy"),
                       verbose=False)
    growth = peak_mib() - before
    maps = np.load(path, mmap_mode="r")
    equal, offset = True, 0
    for batch in dataset.unbatch().batch(512):  # in memory, 512 images at a time
        x = batch.numpy()
        equal &= bool(np.array_equal(maps[offset:offset + len(x)], vis.explain(model, x)))
        offset += len(x)
    equal &= offset == N
    print(json.dumps({"growth_mib": growth, "shape": list(maps.shape),
                      "file_mib": os.path.getsize(path) / 2 ** 20, "equal": equal}))


if __name__ == "__main__":
    main()
