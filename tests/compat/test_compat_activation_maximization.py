"""tf-keras-vis's activation-maximization suite, in vis's words: shapes and ranges for
filters and classes, input modifiers, callbacks, regularizer weights and mixed precision."""

import keras
import numpy as np
import pytest
from compat_models import conv_model, dense_model

from vis.callbacks import OptimizerCallback
from vis.input_modifiers import Jitter, Rotate2D, Scale
from vis.visualization import visualize_activation


@pytest.mark.parametrize("layer, filters", [(-1, 0), (-1, [0, 1]), (-1, None),
                                            ("conv_1", 3), ("conv_1", None)])
def test_classes_and_filters(layer, filters):
    img = visualize_activation(conv_model(), layer, filters, max_iter=3, seed=0)
    assert img.shape == (8, 8, 3) and img.dtype == np.uint8


def test_batch_of_seeds_and_float_range():
    seeds = np.random.default_rng(0).uniform(size=(3, 8, 8, 3)).astype("float32")
    imgs = visualize_activation(conv_model(), -1, 1, seed_input=seeds, input_range=(0.0, 1.0),
                                max_iter=3)
    assert imgs.shape == (3, 8, 8, 3) and imgs.dtype == np.float32
    assert imgs.min() >= 0.0 and imgs.max() <= 1.0


def test_dense_model():
    img = visualize_activation(dense_model(), -1, 0, max_iter=3, input_range=(-1.0, 1.0),
                               tv_weight=0, seed=0)
    assert img.shape == (8,) and img.min() >= -1 and img.max() <= 1


@pytest.mark.parametrize("modifiers", [[Jitter(0.25, seed=0)], [Rotate2D(10.0, seed=0)],
                                       [Scale(seed=0)], [Jitter(seed=0), Rotate2D(seed=0),
                                                         Scale(seed=0)]])
def test_input_modifiers(modifiers):
    img = visualize_activation(conv_model(), -1, 0, max_iter=3, input_modifiers=modifiers,
                               seed=0)
    assert img.shape == (8, 8, 3)


def test_modifiers_keep_shape_and_dtype():
    x = np.random.default_rng(1).uniform(size=(2, 9, 7, 3)).astype("float32")
    for m in (Jitter(2, seed=0), Rotate2D(seed=0), Scale(0.5, 0.6, seed=0), Scale(1.5, 1.6)):
        out = m.pre(x)
        assert out.shape == x.shape and out.dtype == x.dtype
        np.testing.assert_array_equal(m.post(out), out)
    shifted = Jitter(3, seed=2).pre(x)
    assert np.allclose(np.sort(shifted.ravel()), np.sort(x.ravel()))  # a circular shift


def test_callbacks_are_called_each_step():
    class Count(OptimizerCallback):
        steps, ended = 0, False

        def callback(self, i, named_losses, overall_loss, grads, wrt_value):
            self.steps += 1
            assert grads.shape == wrt_value.shape == (1, 8, 8, 3)

        def on_end(self):
            self.ended = True

    count = Count()
    visualize_activation(conv_model(), -1, 0, max_iter=4, callbacks=[count], seed=0)
    assert count.steps == 4 and count.ended


def test_bad_modifiers_and_callbacks():
    with pytest.raises(TypeError, match="input_modifiers"):
        visualize_activation(conv_model(), -1, 0, max_iter=1, input_modifiers=["jitter"])
    with pytest.raises(TypeError, match="callbacks"):
        visualize_activation(conv_model(), -1, 0, max_iter=1, callbacks=[print])
    with pytest.raises(ValueError, match="jitter"):
        Jitter(-1)


def test_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        img = visualize_activation(conv_model(), -1, 0, max_iter=3, seed=0)
        assert np.all(np.isfinite(img.astype("float32")))
    finally:
        keras.mixed_precision.set_global_policy("float32")
