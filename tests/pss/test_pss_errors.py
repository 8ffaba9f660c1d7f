"""Clear errors: unusable models, bad options, bad images and labels."""

import keras
import numpy as np
import pytest
from pss_testing import conv_variants_model, random_data

from vis.pss import ParameterSaliency


@pytest.fixture(scope="module")
def psal():
    return ParameterSaliency(conv_variants_model("2d"))


def test_model_without_convolutions():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, name="d1"),
                              keras.layers.Dense(3, name="d2")])
    with pytest.raises(ValueError, match="no convolution layer.*include_dense=True"):
        ParameterSaliency(model)
    psal = ParameterSaliency(model, include_dense=True)
    assert psal.filters[0] == ("d1", 0) and len(psal.filters) == 8
    x, y = random_data((4,), 3, seed=15)
    assert psal.filter_saliency(x, y).shape == (3, 8)


def test_bad_options():
    model = conv_variants_model("2d")
    with pytest.raises(ValueError, match="`layers` names no convolution or Dense layer: \\['nope'\\]"):
        ParameterSaliency(model, layers=["nope"])
    with pytest.raises(ValueError, match="`granularity` must be one of"):
        ParameterSaliency(model, granularity="layer")
    with pytest.raises(ValueError, match="`gradient_method` must be one of"):
        ParameterSaliency(model, gradient_method="jacobian")


def test_models_with_unsuitable_outputs():
    inputs = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(2, 3)(inputs)
    with pytest.raises(ValueError, match=r"output class scores of shape \(batch, n_classes >= 2\)"):
        ParameterSaliency(keras.Model(inputs, h))
    flat = keras.layers.Flatten()(h)
    two = keras.Model(inputs, [keras.layers.Dense(3)(flat), keras.layers.Dense(3)(flat)])
    with pytest.raises(ValueError, match="one input|one output"):
        ParameterSaliency(two)


def test_bad_images(psal):
    x, y = random_data((9, 9, 2), 4, seed=16)
    with pytest.raises(ValueError, match=r"shape \(batch, 9, 9, 2\).*received shape \(4, 9, 9, 3\)"):
        psal.filter_saliency(np.zeros((4, 9, 9, 3)), y)
    with pytest.raises(ValueError, match=r"Add a batch axis"):
        psal.filter_saliency(x[0], y[:1])
    bad = x.copy()
    bad[1, 2, 3, 0] = np.nan
    with pytest.raises(ValueError, match="1 non-finite values"):
        psal.filter_saliency(bad, y)
    with pytest.raises(TypeError, match="must be numeric"):
        psal.filter_saliency(np.full((4, 9, 9, 2), "a"), y)


def test_bad_labels(psal):
    x, y = random_data((9, 9, 2), 4, seed=17)
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\); received values in \[0, 3\]"):
        psal.filter_saliency(x, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        psal.filter_saliency(x, np.array([0, -1, 2, 1]))
    with pytest.raises(ValueError, match=r"shape \(4,\); received shape \(3,\)"):
        psal.filter_saliency(x, y[:3])
    with pytest.raises(ValueError, match="np.argmax"):
        psal.filter_saliency(x, np.eye(3)[y])
    with pytest.raises(ValueError, match="integer class indices"):
        psal.filter_saliency(x, np.array([0.5, 1, 2, 0]))
    with pytest.raises(ValueError, match="true labels"):
        psal.fit(x, None, verbose=False)
    # integral floats and (n, 1) columns are accepted
    np.testing.assert_array_equal(psal.filter_saliency(x, y.astype(float)[:, None]),
                                  psal.filter_saliency(x, y))


def test_bad_k(psal):
    x, y = random_data((9, 9, 2), 20, seed=18)
    psal.fit(x, y, verbose=False)
    with pytest.raises(ValueError, match=r"`k` must be an integer in \[1, 9\], received 10"):
        psal.top_filters(x, y, k=10)
