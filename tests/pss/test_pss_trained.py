"""On the trained digits CNN: misclassified samples stand out, switching off their salient filters
helps more than switching off random ones, and the model is never modified."""

import keras
import numpy as np
import pytest
from conftest import assert_weights_equal, weights_of

from vis.pss import ParameterSaliency, switch_off_experiment, turn_off


@pytest.fixture(scope="module")
def trained(digits_cnn):
    model, _, (x, y) = digits_cnn
    before = weights_of(model)
    outputs = model.predict(x, verbose=0)
    nodes = [len(layer._inbound_nodes) for layer in model.layers]
    psal = ParameterSaliency(model).fit(x, y, batch_size=128, verbose=False)
    return model, psal, x, y, (before, nodes), outputs


def test_misclassified_samples_have_larger_profiles(trained):
    model, psal, x, y, _, outputs = trained
    wrong = outputs.argmax(axis=1) != y
    assert 2 <= wrong.sum() < len(y) // 4
    mean_profile = psal.profile(x, y).mean(axis=1)
    assert mean_profile[wrong].mean() > mean_profile[~wrong].mean() + 1.0
    # The standardization makes the typical (correct) sample's profile close to zero.
    assert abs(np.median(mean_profile[~wrong])) < 0.5


def test_switching_off_salient_filters_beats_random_filters(trained):
    model, psal, x, y, _, outputs = trained
    result = switch_off_experiment(model, psal, x, y, k=5, n_random=10, seed=0)
    wrong = np.flatnonzero(outputs.argmax(axis=1) != y)
    np.testing.assert_array_equal(result.indices, wrong)
    np.testing.assert_allclose(result.p_before, outputs[wrong, y[wrong]], rtol=1e-5, atol=1e-6)
    assert result.p_random.shape == (len(wrong), 10)
    assert result.gain_top > result.gain_random
    assert result.gain_top > 0.1
    assert result.fixed_top.mean() >= result.fixed_random.mean()
    # p_top re-measured independently with turn_off on a copy
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    top = psal.top_filters(x[wrong[:1]], y[wrong[:1]], k=5)[0]
    with turn_off(copy, [psal.filters[j] for j in top]):
        p = copy.predict(x[wrong[:1]], verbose=0)[0, y[wrong[0]]]
    np.testing.assert_allclose(result.p_top[0], p, rtol=1e-5, atol=1e-6)
    assert "random filters off" in result.summary()


def test_the_model_is_never_modified(trained):
    model, psal, x, y, (before, nodes), outputs = trained
    psal.filter_saliency(x[:8], y[:8])
    psal.top_filters(x[:8], y[:8])
    psal.input_saliency(x[:2], y[:2])
    switch_off_experiment(model, psal, x[:60], y[:60], k=3, n_random=2)
    with pytest.raises(RuntimeError, match="boom"):
        with turn_off(model, [psal.filters[0], psal.filters[20]], bias=True):
            assert np.all(model.get_layer("conv1").kernel.numpy()[..., 0] == 0)
            assert model.get_layer("conv2").bias.numpy()[20 - 16] == 0
            raise RuntimeError("boom")
    assert_weights_equal(model, before)
    np.testing.assert_array_equal(model.predict(x, verbose=0), outputs)
    # Layers are neither re-configured nor re-used in another graph (which would add nodes).
    assert model.get_layer("predictions").activation is keras.activations.softmax
    assert model.get_layer("conv1").activation is keras.activations.relu
    assert [len(layer._inbound_nodes) for layer in model.layers] == nodes
