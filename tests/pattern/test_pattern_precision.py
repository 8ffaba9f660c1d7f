"""Precision of the float32 default on data that cancels badly, and the explicit padding it uses.

Before the batch-centred products, float32 fits were off by up to 7e-4 (relative to the largest
pattern entry) for inputs with large offsets, an unrepresentative first batch or a huge bias.
The references here are float64 NumPy computations (`pattern_numpy_reference`).
"""

import keras
import numpy as np
import pattern_numpy_reference as ref
import pytest
import tensorflow as tf

from vis.pattern import _layers, fit_patterns

_LAYERS = [
    keras.layers.Conv2D(2, 3, padding="same"),
    keras.layers.Conv2D(2, (2, 4), strides=(2, 3), padding="same"),
    keras.layers.Conv2D(2, 3, dilation_rate=2, padding="same"),
    keras.layers.Conv2D(2, 3, strides=2, padding="valid"),
    keras.layers.Conv1D(2, 3, strides=2, padding="causal"),
    keras.layers.Conv1D(2, 4, dilation_rate=2, padding="same"),
    keras.layers.Conv3D(2, (2, 3, 2), strides=(2, 1, 2), padding="same"),
]
_SHAPES = {1: (9, 2), 2: (7, 8, 2), 3: (5, 4, 5, 2)}


@pytest.mark.parametrize("layer", _LAYERS, ids=lambda layer: f"{type(layer).__name__}")
def test_explicit_padding_then_valid_equals_the_layer_op(layer):
    shape = _SHAPES[layer.rank]
    layer.build((None,) + shape)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(3,) + shape))
    kernel = tf.constant(rng.normal(size=tuple(layer.kernel.shape)))
    want = _layers.linear_op(layer)(x, kernel)
    got = _layers.valid_op(layer)(_layers.pad_input(layer, x), kernel)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-12)
    # the padded filter-gradient sums equal the layer's own
    g = tf.constant(rng.normal(size=tuple(want.shape)))
    np.testing.assert_allclose(
        np.asarray(_layers.patch_products(layer, _layers.pad_input(layer, x), g, padded=True)),
        np.asarray(_layers.patch_products(layer, x, g)), rtol=1e-12, atol=1e-12)


def _dense(w, b, activation=None):
    model = keras.Sequential([keras.Input((w.shape[0],)),
                              keras.layers.Dense(w.shape[1], activation=activation, name="d")])
    model.set_weights([w.astype("float32"), b.astype("float32")])
    return model


def _rel(got, want):
    return np.abs(got - want).max() / np.abs(want).max()


def test_float32_is_precise_for_offsets_first_batch_and_bias():
    rng = np.random.default_rng(1)
    n, d = 4096, 16
    cases = {}
    x = (1000 + rng.normal(size=(n, d))).astype("float32")
    x[:256] += 50  # an unrepresentative first batch on top of a large offset
    cases["offset"] = (x, rng.normal(size=(d, 4)), rng.normal(size=4), None)
    x = rng.normal(size=(n, d)).astype("float32")
    cases["bias"] = (x, 0.03 * rng.normal(size=(d, 3)), np.full(3, 1e5), None)
    x = (100 + rng.normal(size=(n, d))).astype("float32")
    w = rng.normal(size=(d, 4))
    cases["relu regime"] = (x, w, -100 * w.sum(0), "relu")
    x = rng.integers(0, 17, (n, d)).astype("float32") / 16  # coarse grid: kept unshifted
    cases["coarse"] = (x, rng.normal(size=(d, 4)), rng.normal(size=4), "relu")
    for name, (x, w, b, act) in cases.items():
        model = _dense(w, b, act)
        w32 = np.asarray(model.get_weights()[0], "float64")
        b32 = np.asarray(model.get_weights()[1], "float64")
        xs = x.astype("float64")
        fitted = fit_patterns(model, x, "two_component", verbose=False, negative=True)
        mask = xs @ w32 + b32
        for got, want in ((fitted["d"], ref.patterns(xs, w32, mask, "pos")),
                          (fitted.negative["d"], ref.patterns(xs, w32, mask, "neg"))):
            if np.abs(want).max() > 0:
                assert _rel(got, want) < 1e-5, name
        linear = fit_patterns(model, x, "linear", verbose=False)["d"]
        assert _rel(linear, ref.patterns(xs, w32)) < 1e-5, name


def test_float32_padded_conv_with_offset_input():
    """A 'same' convolution of offset inputs: centred with explicit padding in float32."""
    rng = np.random.default_rng(2)
    x = (100 + rng.normal(size=(300, 6, 6, 2))).astype("float32")
    inp = keras.Input((6, 6, 2))
    out = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="c")(inp)
    model = keras.Model(inp, out)
    w = rng.normal(size=(3, 3, 2, 3))
    model.set_weights([w.astype("float32"), (-100 * w.sum((0, 1, 2))).astype("float32")])
    rows = ref.patches_2d(x.astype("float64"), (3, 3), padding="same")
    w2 = np.asarray(model.get_weights()[0], "float64").reshape(-1, 3)
    mask = np.asarray(model(x), "float64").reshape(-1, 3)
    fitted = fit_patterns(model, x, verbose=False)["c"].reshape(w2.shape)
    assert _rel(fitted, ref.patterns(rows, w2, mask, "pos")) < 1e-5
    linear = fit_patterns(model, x, "linear", verbose=False)["c"].reshape(w2.shape)
    assert _rel(linear, ref.patterns(rows, w2)) < 1e-5
