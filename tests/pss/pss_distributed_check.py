"""Run in a fresh process by test_pss_fit.py: `fit` under a MirroredStrategy of two logical CPUs.

Logical devices must be configured before TensorFlow initializes its devices, hence a separate
process. Prints one JSON line with the statistics with and without the strategy.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pss_testing import conv_variants_model, random_data  # noqa: E402

from vis.pss import ParameterSaliency  # noqa: E402


def main() -> None:
    model = conv_variants_model("2d")
    x, y = random_data((9, 9, 2), 48, seed=6)
    psal = ParameterSaliency(model)
    psal.fit(x, y, batch_size=16, verbose=False)
    plain = (psal.mean_.tolist(), psal.std_.tolist(), psal.n_samples_)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    shares = [int(part[0]) for part in psal._replica_moments(strategy, x[:16], y[:16])]
    psal.fit(x, y, batch_size=16, verbose=False, strategy=strategy)
    explicit = (psal.mean_.tolist(), psal.std_.tolist(), psal.n_samples_)
    with strategy.scope():
        psal.fit(x, y, batch_size=16, verbose=False)
    scoped = (psal.mean_.tolist(), psal.std_.tolist(), psal.n_samples_)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "shares": shares,
                      "plain": plain, "explicit": explicit, "scoped": scoped}))


if __name__ == "__main__":
    main()
