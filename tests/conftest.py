"""Shared fixtures: quiet TensorFlow, fixed seeds, headless matplotlib, a trained digits CNN."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("VIS_TEST_WITHOUT_TENSORFLOW") == "1":
    # tests/backends under KERAS_BACKEND=jax / torch (test_other_backends.py): importing
    # TensorFlow fails from now on, as on a machine with only JAX or PyTorch installed
    sys.modules["tensorflow"] = None

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fixed_seeds():
    import keras

    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture(scope="session")
def digits_cnn():
    """A digits CNN trained for a few seconds, with its data: `(model, (xtr, ytr), (xte, yte))`.

    Shared read-only by every test that needs a trained model: tests must never change it
    (which is also what the library promises).
    """
    from vis.utils.digits import train_digits_cnn

    return train_digits_cnn(epochs=15, seed=0)


def weights_of(model):
    """A deep copy of a model's weights, to compare before/after a call."""
    return [np.array(w) for w in model.get_weights()]


def assert_weights_equal(model, before):
    after = model.get_weights()
    assert len(after) == len(before)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)
