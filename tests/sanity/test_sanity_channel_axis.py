"""Which axis of the maps is a channel axis: grayscale (N, H, W) inputs keep their width
(regression: the width was summed away like a channel), Conv1D inputs have channels."""

import keras
import numpy as np
import pytest
from scipy import stats
from skimage.feature import hog as sk_hog
from skimage.metrics import structural_similarity

from vis.sanity import data_randomization_test, model_randomization_test
from vis.sanity._layout import auto_channel_axis


def _minmax(m):
    return (m - m.min()) / (m.max() - m.min())


@pytest.fixture(scope="module")
def gray_model():
    """Grayscale 8x8 images without a channel axis, reshaped inside the model."""
    init = keras.initializers.GlorotUniform
    inp = keras.Input((8, 8))
    h = keras.layers.Reshape((8, 8, 1))(inp)
    h = keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer=init(0), name="conv")(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(3, kernel_initializer=init(1), name="head")(h)
    return keras.Model(inp, out)


def _gray_data():
    x = np.random.default_rng(0).normal(size=(6, 8, 8)).astype("float32")
    return x, np.arange(6) % 3


def test_grayscale_maps_are_compared_pixel_by_pixel(gray_model):
    x, y = _gray_data()
    result = model_randomization_test(gray_model, x, y, "gradient", verbose=False)
    assert result.map_channel_axis is None and result.channel_axis is None
    a = result.maps["original"].astype("float64")
    assert a.shape == (6, 8, 8)
    for k, step in enumerate(result.steps):
        b = result.maps[step].astype("float64")
        want = [stats.spearmanr(a[i].ravel(), b[i].ravel()).statistic for i in range(6)]
        np.testing.assert_allclose(result.scores["spearman"][k], want, atol=1e-12)
        want_abs = [stats.spearmanr(np.abs(a[i]).ravel(), np.abs(b[i]).ravel()).statistic
                    for i in range(6)]
        np.testing.assert_allclose(result.scores["spearman_abs"][k], want_abs, atol=1e-12)
        want_ssim = [structural_similarity(_minmax(a[i]), _minmax(b[i]), data_range=1.0)
                     for i in range(6)]
        np.testing.assert_allclose(result.scores["ssim"][k], want_ssim, atol=1e-10)
        want_hog = [stats.spearmanr(sk_hog(_minmax(a[i]), pixels_per_cell=(2, 2)),
                                    sk_hog(_minmax(b[i]), pixels_per_cell=(2, 2))).statistic
                    for i in range(6)]
        np.testing.assert_allclose(result.scores["hog"][k], want_hog, atol=1e-12)


def test_explicit_channel_axis_is_honoured_and_checked(gray_model):
    x, y = _gray_data()
    rows = model_randomization_test(gray_model, x, y, "gradient", metrics=("spearman",),
                                    layers=["head"], channel_axis=-1, verbose=False)
    assert rows.map_channel_axis == -1
    a, b = rows.maps["original"], rows.maps["head"]
    want = [stats.spearmanr(a[i].sum(-1), b[i].sum(-1)).statistic for i in range(6)]
    np.testing.assert_allclose(rows.scores["spearman"][0], want, atol=1e-12)
    for bad in (0, 3, -3):
        with pytest.raises(ValueError, match="channel_axis"):
            model_randomization_test(gray_model, x, y, "gradient", channel_axis=bad,
                                     metrics=("spearman",), verbose=False)
    for bad in ("last", 1.0, True):
        with pytest.raises(TypeError, match="channel_axis"):
            model_randomization_test(gray_model, x, y, "gradient", channel_axis=bad,
                                     verbose=False)


def test_data_randomization_takes_channel_axis():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 8, 8)).astype("float32"), np.arange(40) % 3

    def build():
        return keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(),
                                 keras.layers.Dense(3)])

    result = data_randomization_test(build, x, y, x[:5], y[:5], "gradient", epochs=1,
                                     metrics=("spearman",), verbose=False)
    assert result.map_channel_axis is None
    a, b = result.maps["original"], result.maps["random_labels"]
    want = [stats.spearmanr(a[i].ravel(), b[i].ravel()).statistic for i in range(5)]
    np.testing.assert_allclose(result.scores["spearman"][0], want, atol=1e-12)
    rows = data_randomization_test(build, x, y, x[:5], y[:5], "gradient", epochs=1,
                                   metrics=("spearman",), channel_axis=1, verbose=False)
    assert rows.map_channel_axis == 1


def _conv(rank, data_format="channels_last", reshape=None, input_shape=None):
    inp = keras.Input(input_shape)
    h = keras.layers.Reshape(reshape)(inp) if reshape else inp
    layer = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}[rank]
    h = layer(2, 1, data_format=data_format)(h)
    return keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(h)))


def test_automatic_channel_axis_follows_the_first_convolution():
    conv1d = _conv(1, input_shape=(10, 3))
    assert auto_channel_axis(conv1d, 3) == -1  # maps shaped like the (N, T, C) input
    assert auto_channel_axis(conv1d, 2) is None  # Grad-CAM's (N, T)
    assert auto_channel_axis(_conv(1, "channels_first", input_shape=(3, 10)), 3) == 1
    image = _conv(2, input_shape=(8, 8, 3))
    assert auto_channel_axis(image, 4) == -1 and auto_channel_axis(image, 3) is None
    assert auto_channel_axis(_conv(2, "channels_first", input_shape=(3, 8, 8)), 4) == 1
    # Inputs without a channel axis, reshaped inside the model: no channel axis.
    assert auto_channel_axis(_conv(2, reshape=(8, 8, 1), input_shape=(8, 8)), 3) is None
    assert auto_channel_axis(_conv(3, reshape=(4, 8, 8, 1), input_shape=(4, 8, 8)), 4) is None
    mlp = keras.Sequential([keras.Input((20,)), keras.layers.Dense(2)])
    assert auto_channel_axis(mlp, 2) is None
    mlp_image = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                                  keras.layers.Dense(2)])
    assert auto_channel_axis(mlp_image, 4) == -1
    assert auto_channel_axis(keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(),
                                               keras.layers.Dense(2)]), 3) is None
