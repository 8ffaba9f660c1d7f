"""Activation maximization makes inputs the model classifies as the requested class."""

import numpy as np
import pytest
from conftest import assert_weights_equal, weights_of

from vis.visualization import visualize_activation


def test_class_images_are_classified_as_their_class(digits_cnn):
    model, *_ = digits_cnn
    before = weights_of(model)
    imgs = np.stack([visualize_activation(model, -1, k, input_range=(0.0, 1.0), max_iter=60,
                                          seed=k) for k in range(10)])
    assert imgs.shape == (10, 8, 8, 1)
    assert imgs.min() >= 0.0 and imgs.max() <= 1.0
    np.testing.assert_array_equal(model.predict(imgs, verbose=0).argmax(axis=1), np.arange(10))
    assert_weights_equal(model, before)


def test_filter_maximization_raises_the_filter_mean(digits_cnn):
    model, *_ = digits_cnn
    import keras

    feat = keras.Model(model.inputs[0], model.get_layer("conv2").output)
    start = np.full((8, 8, 1), 0.5, "float32")
    img = visualize_activation(model, "conv2", 7, seed_input=start, input_range=(0.0, 1.0),
                               max_iter=40, lp_norm_weight=0, tv_weight=0, lr=0.05)
    before = feat(start[None]).numpy()[..., 7].mean()
    after = feat(img[None]).numpy()[..., 7].mean()
    assert after > before


def test_input_range_is_respected_and_seeded(digits_cnn):
    model, *_ = digits_cnn
    a = visualize_activation(model, -1, 3, input_range=(0, 255), max_iter=5, seed=1)
    b = visualize_activation(model, -1, 3, input_range=(0, 255), max_iter=5, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 255


@pytest.mark.parametrize("kwargs, match", [
    (dict(input_range=(1, 0)), "input_range"),
    (dict(max_iter=0), "max_iter"),
    (dict(lr=-1), "`lr`"),
    (dict(act_max_weight=0, lp_norm_weight=None, tv_weight=0), "nothing to optimize"),
    (dict(wrt_tensor="conv2"), "wrt_tensor"),
])
def test_bad_arguments(digits_cnn, kwargs, match):
    model, *_ = digits_cnn
    with pytest.raises(ValueError, match=match):
        visualize_activation(model, -1, 0, **kwargs)


def test_unknown_optimizer_option_is_refused(digits_cnn):
    model, *_ = digits_cnn
    with pytest.raises(TypeError, match="regularizers"):
        visualize_activation(model, -1, 0, regularizers=[("tv", 1.0)])


def test_bad_input_range_and_lr_types(digits_cnn):
    model, *_ = digits_cnn
    with pytest.raises(ValueError, match="input_range"):
        visualize_activation(model, -1, 0, input_range=(0, 1, 2))
    with pytest.raises(ValueError, match="`lr`"):
        visualize_activation(model, -1, 0, lr="fast")
