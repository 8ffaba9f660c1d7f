"""The small models tf-keras-vis's tests use, rebuilt: conv, dense, two inputs, two outputs."""

import keras
import numpy as np


def conv_model(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 3), name="input_1")
    h = keras.layers.Conv2D(6, 3, activation="relu", name="conv_1")(inp)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inp, keras.layers.Dense(2, activation="softmax", name="dense_1")(h))


def dense_model(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8,), name="input_1")
    h = keras.layers.Dense(5, activation="relu", name="dense_1")(inp)
    return keras.Model(inp, keras.layers.Dense(2, activation="softmax", name="dense_2")(h))


def two_input_model(seed=0):
    keras.utils.set_random_seed(seed)
    a, b = keras.Input((8, 8, 3), name="a"), keras.Input((10, 10, 3), name="b")
    ha = keras.layers.Conv2D(6, 3, activation="relu", name="conv_a")(a)
    hb = keras.layers.Conv2D(6, 3, activation="relu", name="conv_b")(b)
    h = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(ha),
                                    keras.layers.GlobalAveragePooling2D()(hb)])
    return keras.Model([a, b], keras.layers.Dense(2, activation="softmax", name="out")(h))


def sample(shape, seed=0):
    return np.random.default_rng(seed).uniform(size=shape).astype("float32")
