"""Tiny models and data, built once for the whole fuzz suite (never modified by any case)."""

import keras
import numpy as np
import pytest


def _convnet():
    keras.utils.set_random_seed(3)
    inp = keras.Input((6, 6, 1), name="image")
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inp)
    h = keras.layers.Flatten(name="flatten")(h)
    out = keras.layers.Dense(3, name="out")(h)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(3)
    # positive weights and biases: every unit fires on positive inputs and every class score
    # grows with every activation (no all-zero map, Grad-CAM included)
    kernel, bias, w, b = model.get_weights()
    model.set_weights([np.abs(rng.normal(size=kernel.shape)).astype("float32") + 0.1,
                       np.full(bias.shape, 0.1, "float32"),
                       np.abs(rng.normal(size=w.shape)).astype("float32") + 0.1, b])
    return model


def _dead():
    """A ReLU network whose hidden units never fire on non-negative inputs: all-zero maps."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu",
                                                                    name="hidden"),
                              keras.layers.Dense(2, name="out")])
    w, b, v, c = model.get_weights()
    model.set_weights([-np.ones_like(w), -np.ones_like(b), v, c])
    return model


@pytest.fixture(scope="session")
def convnet():
    """`(model, x, y)`: a 6x6x1 ReLU convnet with 3 outputs, 4 positive images, labels."""
    model = _convnet()
    x = np.random.default_rng(4).uniform(0.2, 1.0, size=(4, 6, 6, 1)).astype("float32")
    return model, x, np.array([0, 1, 2, 0])


@pytest.fixture(scope="session")
def dead():
    """`(model, x)`: a model whose maps are all zero on `x`."""
    return _dead(), np.abs(np.random.default_rng(5).normal(size=(2, 4))).astype("float32")


@pytest.fixture(scope="session")
def patterns(convnet):
    from vis.pattern import fit_patterns

    model, x, _ = convnet
    return fit_patterns(model, x, verbose=False)


@pytest.fixture(scope="session")
def psal(convnet):
    from vis.pss import ParameterSaliency

    model, x, y = convnet
    return ParameterSaliency(model).fit(x, y, verbose=False)
