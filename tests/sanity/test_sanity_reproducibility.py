"""`data_randomization_test(seed=...)` is reproducible with Dropout and unseeded initializers
(regression: two runs with seed=0 differed)."""

import random

import keras
import numpy as np

from vis.sanity import data_randomization_test
from vis.utils.digits import load_digits


def build_unseeded():
    """Unseeded initializers and a Dropout layer: every random draw comes from global state."""
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(32, activation="relu"),
                             keras.layers.Dropout(0.3),
                             keras.layers.Dense(10)])


def _run(seed):
    (xtr, ytr), (xte, yte) = load_digits()
    return data_randomization_test(build_unseeded, xtr[:128], ytr[:128], xte[:40], yte[:40],
                                   "gradient", epochs=2, n_explained=12, seed=seed,
                                   metrics=("spearman",), verbose=False)


def _scramble_global_state(value):
    """What other code run in between does: other global seeds, random draws, new layers."""
    keras.utils.set_random_seed(value)
    random.random()
    np.random.random(3)  # the global NumPy state, on purpose
    keras.random.uniform((3,))
    keras.layers.Dense(4).build((None, 2))


def test_same_seed_same_result_in_one_process():
    _scramble_global_state(11)
    first = _run(seed=3)
    _scramble_global_state(22)
    second = _run(seed=3)
    for name in ("original", "random_labels"):
        np.testing.assert_allclose(second.maps[name], first.maps[name], rtol=0, atol=1e-6)
        for w1, w2 in zip(first.models[name].get_weights(), second.models[name].get_weights()):
            np.testing.assert_allclose(w2, w1, rtol=0, atol=1e-6)
    np.testing.assert_allclose(second.scores["spearman"], first.scores["spearman"], atol=1e-6)
    assert second.train_accuracy == first.train_accuracy
    assert second.accuracy == first.accuracy
