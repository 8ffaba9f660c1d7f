"""turn_off / switched_off_copy: exactly the filter's weights are zeroed, and always restored."""

import keras
import numpy as np
import pytest
from conftest import assert_weights_equal, weights_of
from pss_testing import conv_variants_model, exotic_conv_model, random_data

from vis.pss import ParameterSaliency, switch_off_experiment, switched_off_copy, turn_off


def test_turn_off_zeroes_only_the_named_filters_and_restores():
    model = conv_variants_model("2d")
    before = weights_of(model)
    conv = model.layers[2]
    with turn_off(model, [(conv.name, 1), (conv.name, 3), ("hidden", 2)]) as same:
        assert same is model
        kernel = conv.kernel.numpy()
        assert np.all(kernel[..., [1, 3]] == 0)
        np.testing.assert_array_equal(kernel[..., [0, 2]], before[2][..., [0, 2]])
        np.testing.assert_array_equal(conv.bias.numpy(), before[3])  # bias kept by default
        assert np.all(model.get_layer("hidden").kernel.numpy()[:, 2] == 0)
    assert_weights_equal(model, before)


def test_turned_off_filter_outputs_only_its_bias():
    """Independent check of the slice: the layer's output channel becomes constant (= bias)."""
    model = exotic_conv_model()
    x, _ = random_data((5, 5, 2), 2, seed=13)
    before = weights_of(model)
    for name, index in [("tconv", 2), ("dconv", 3), ("sconv/pointwise", 1)]:
        layer = model.get_layer(name.split("/")[0])
        probe = keras.Model(model.inputs[0], layer.output)
        with turn_off(model, [(name, index)], bias=True):
            channel = probe.predict(x, verbose=0)[..., index]
            others = probe.predict(x, verbose=0)
        np.testing.assert_allclose(channel, np.tanh(0.0), atol=0)
        assert np.abs(others).max() > 0
    with turn_off(model, [("sconv/depthwise", 5)]):
        kernel = model.get_layer("sconv").depthwise_kernel.numpy()
        assert np.all(kernel[:, :, 5 // 2, 5 % 2] == 0)
        assert np.count_nonzero(kernel == 0) == kernel.shape[0] * kernel.shape[1]
    assert_weights_equal(model, before)


def test_invalid_filters_change_nothing():
    model = conv_variants_model("2d")
    before = weights_of(model)
    conv = model.layers[1].name
    with pytest.raises(ValueError, match="No convolution or Dense kernel named 'nope'"):
        with turn_off(model, [(conv, 0), ("nope", 0)]):
            pass
    with pytest.raises(ValueError, match="Filter index 3 out of range"):
        with turn_off(model, [(conv, 3)]):
            pass
    with pytest.raises(ValueError, match=r"\(layer name, filter index\)"):
        with turn_off(model, [conv]):
            pass
    assert_weights_equal(model, before)


def test_switched_off_copy_leaves_the_model_alone():
    model = conv_variants_model("2d")
    before = weights_of(model)
    conv = model.layers[1]
    copy = switched_off_copy(model, [(conv.name, 0)], bias=True)
    assert np.all(copy.get_layer(conv.name).kernel.numpy()[..., 0] == 0)
    assert copy.get_layer(conv.name).bias.numpy()[0] == 0
    np.testing.assert_array_equal(copy.get_layer(conv.name).kernel.numpy()[..., 1:],
                                  before[0][..., 1:])
    assert_weights_equal(model, before)


def test_experiment_argument_checks():
    model = conv_variants_model("2d")
    x, y = random_data((9, 9, 2), 6, seed=14)
    psal = ParameterSaliency(model, granularity="parameter")
    with pytest.raises(ValueError, match="granularity='filter'"):
        switch_off_experiment(model, psal, x, y)
    psal = ParameterSaliency(model, loss=lambda t, p: keras.losses.sparse_categorical_crossentropy(
        t, p, from_logits=True))
    with pytest.raises(ValueError, match="`n_random` must be a positive integer"):
        switch_off_experiment(model, psal, x, y, n_random=0)
    with pytest.raises(ValueError, match="Pass `probabilities=True/False`"):
        switch_off_experiment(model, psal, x, y, k=2)
