"""Memory, argument checks, numerical range, mixed precision, save/load paths and turn_off."""

import tracemalloc

import keras
import numpy as np
import pytest
from conftest import assert_weights_equal, weights_of
from pss_testing import conv_variants_model, random_data

from vis.pss import ParameterSaliency, switch_off_experiment, switched_off_copy


@pytest.fixture(scope="module")
def fitted():
    model = conv_variants_model("2d")
    x, y = random_data((9, 9, 2), 20, seed=31)
    return model, ParameterSaliency(model).fit(x, y, verbose=False), x, y


def test_fit_memory_does_not_grow_with_the_data(fitted):
    """Review defect 7: the whole float64 array was cast to float32 and scanned at once."""
    _, psal, _, _ = fitted
    x = np.random.default_rng(0).normal(size=(3000, 9, 9, 2))  # float64, 3.9 MB
    y = np.random.default_rng(1).integers(0, 3, len(x))
    tracemalloc.start()
    try:
        psal.fit(x, y, batch_size=64, verbose=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert psal.n_samples_ == len(x)
    assert peak < 0.2 * x.nbytes  # a float32 copy alone would be 0.5 * x.nbytes


def test_a_non_finite_sample_is_still_found_batch_by_batch(fitted):
    _, psal, x, y = fitted
    bad = x.astype(np.float64)
    bad[17, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"1 non-finite values .*samples 16 to 19"):
        psal.fit(bad, y, batch_size=8, verbose=False)


@pytest.mark.parametrize("batch_size", [-1, 0, 2.5, True])
def test_batch_size_is_validated_everywhere(fitted, batch_size):
    """Review defect 9: -1 returned empty arrays, 0 raised a range() error."""
    _, psal, x, y = fitted
    calls = [lambda: psal.filter_saliency(x, y, batch_size=batch_size),
             lambda: psal.profile(x, y, batch_size=batch_size),
             lambda: psal.top_filters(x, y, k=2, batch_size=batch_size),
             lambda: psal.input_saliency(x, y, k=2, batch_size=batch_size)]
    for call in calls:
        with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
            call()


def test_input_saliency_survives_tiny_standard_deviations(fitted):
    """Review defect 10: profiles of ~1e12 overflowed float32 squares, giving a zero gradient.

    With `mean_ = 0` the profile is `s / (a sigma)`: the cosine, hence its gradient, does not
    depend on `a` at all.
    """
    _, psal, x, y = fitted
    mean, std = psal.mean_, psal.std_
    try:
        psal.mean_ = np.zeros_like(mean)
        expected = psal.input_saliency(x[:3], y[:3], k=2)
        psal.std_ = std * 1e-12
        assert np.abs(psal.profile(x[:3], y[:3])).max() > 1e11
        got = psal.input_saliency(x[:3], y[:3], k=2)
    finally:
        psal.mean_, psal.std_ = mean, std
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


def test_switch_off_experiment_validates_images_labels_and_k(fitted):
    """Review defect 11: one-hot or wrong-length labels gave a raw NumPy broadcast error."""
    model, psal, x, y = fitted
    with pytest.raises(ValueError, match="np.argmax"):
        switch_off_experiment(model, psal, x, np.eye(3)[y], k=2, n_random=1)
    with pytest.raises(ValueError, match=r"shape \(20,\); received shape \(5,\)"):
        switch_off_experiment(model, psal, x, y[:5], k=2, n_random=1)
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        switch_off_experiment(model, psal, x, y + 3, k=2, n_random=1)
    with pytest.raises(ValueError, match=r"shape \(batch, 9, 9, 2\)"):
        switch_off_experiment(model, psal, x[..., :1], y, k=2, n_random=1)
    with pytest.raises(ValueError, match=r"`k` must be an integer in \[1, 9\], received 1000"):
        switch_off_experiment(model, psal, x, y, k=1000, n_random=1)


def test_turn_off_method_zeroes_indices_and_pairs_and_restores_on_exceptions(fitted):
    model, psal, x, _ = fitted
    before = weights_of(model)
    chosen = [0, psal.filters[4]]  # an index into `filters`, and a (kernel name, filter) pair
    pairs = [psal.filters[0], psal.filters[4]]
    expected = switched_off_copy(model, pairs).predict(x, verbose=0)
    with pytest.raises(RuntimeError, match="inside the block"):
        with psal.turn_off(chosen) as same:
            assert same is model
            for name, index in pairs:
                assert np.all(model.get_layer(name).kernel.numpy()[..., index] == 0)
            np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)
            raise RuntimeError("inside the block")
    assert_weights_equal(model, before)
    with pytest.raises(ValueError, match="index 9 is out of range"):
        psal.turn_off([9])
    with pytest.raises(ValueError, match="granularity='filter'"):
        ParameterSaliency(model, granularity="parameter").turn_off([0])
    assert_weights_equal(model, before)


def test_load_accepts_the_path_given_to_save(fitted, tmp_path):
    """`save("stats")` writes stats.npz (NumPy appends the suffix); `load("stats")` reads it."""
    model, psal, _, _ = fitted
    psal.save(tmp_path / "stats")
    assert (tmp_path / "stats.npz").exists()
    loaded = ParameterSaliency(model).load(tmp_path / "stats")
    np.testing.assert_array_equal(loaded.mean_, psal.mean_)
    np.testing.assert_array_equal(loaded.std_, psal.std_)
    with pytest.raises(FileNotFoundError):
        ParameterSaliency(model).load(tmp_path / "missing")


def test_mixed_precision_saliency_is_float32_and_methods_agree():
    """Under mixed_float16 the patches method returned float16 saliency (products in float16)."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        init = keras.initializers.GlorotUniform
        inputs = keras.Input((8, 8, 2))
        h = keras.layers.Conv2D(3, 3, activation="relu", kernel_initializer=init(1),
                                bias_initializer="ones", name="c1")(inputs)
        h = keras.layers.Conv2D(4, 3, activation="tanh", kernel_initializer=init(2),
                                name="c2")(h)
        outputs = keras.layers.Dense(3, activation="softmax", dtype="float32", name="head",
                                     kernel_initializer=init(3))(keras.layers.Flatten()(h))
        model = keras.Model(inputs, outputs)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    x, y = random_data((8, 8, 2), 6, seed=32)
    patches = ParameterSaliency(model, gradient_method="patches").filter_saliency(x, y)
    vmap = ParameterSaliency(model, gradient_method="vmap").filter_saliency(x, y)
    assert patches.dtype == np.float32 and vmap.dtype == np.float32
    # Both differentiate float16 activations: equal up to float16 round-off.
    np.testing.assert_allclose(patches, vmap, rtol=0, atol=5e-3 * np.abs(vmap).max())
