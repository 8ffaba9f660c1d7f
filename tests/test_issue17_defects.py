"""Regression tests of the defects of issue 17 that are not keras-vis idioms."""

import sys
from pathlib import Path

import keras
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "pss"))
from pss_testing import conv_variants_model  # noqa: E402


@pytest.fixture(scope="module")
def saved_pss(tmp_path_factory):
    from vis.pss import ParameterSaliency

    psal = ParameterSaliency(conv_variants_model("2d"))
    n = len(psal.filters)
    psal.mean_, psal.std_, psal.n_samples_ = np.zeros(n), np.ones(n), 4
    path = tmp_path_factory.mktemp("pss") / "stats.npz"
    psal.save(path)
    return psal, path


def _rewrite(src, dst, **changes):
    with np.load(src, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez(dst, **arrays)
    return dst


@pytest.mark.parametrize("change, match", [
    (dict(mean=np.zeros(3)), "`mean` has shape"),
    (dict(std="nan"), "NaN"),
    (dict(std="neg"), "negative"),
    (dict(n_samples=None), "missing \\['n_samples'\\]"),
    (dict(mean=None), "missing \\['mean'\\]"),
])
def test_parameter_saliency_load_validates(saved_pss, tmp_path, change, match):
    psal, path = saved_pss
    n = len(psal.filters)
    if change.get("std") == "nan":
        change = dict(std=np.full(n, np.nan))
    elif change.get("std") == "neg":
        change = dict(std=-np.ones(n))
    bad = _rewrite(path, tmp_path / "bad.npz", **change)
    with pytest.raises(ValueError, match=match):
        psal.load(bad)
    assert psal.load(path).n_samples_ == 4


@pytest.mark.parametrize("index", [1.7, "2", True])
def test_turn_off_refuses_non_int_indices(index):
    from vis.pss import turn_off

    model = conv_variants_model("2d")
    name = next(layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    with pytest.raises(ValueError, match="must be an int"):
        with turn_off(model, [(name, index)]):
            pass


def test_data_randomization_refuses_a_model_for_build_model():
    from vis.sanity import data_randomization_test

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    x, y = np.zeros((4, 4), "float32"), np.zeros(4, int)
    with pytest.raises(TypeError, match="clone_model"):
        data_randomization_test(model, x, y, x, y, "gradient", epochs=1, verbose=False)


def test_nan_reinitialization_blames_the_layer():
    from vis.sanity import model_randomization_test

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d1"),
                              keras.layers.Dense(2, name="d2")])
    x, y = np.ones((2, 4), "float32"), np.zeros(2, int)
    with pytest.raises(ValueError, match="re-initialization of layer 'd2'.*not at fault"):
        model_randomization_test(model, x, y, "gradient", verbose=False, metrics=["spearman"],
                                 reinitialize=lambda layer: [np.full_like(w, np.nan)
                                                             for w in layer.get_weights()])


class _Sub(keras.Model):
    def __init__(self):
        super().__init__()
        self.d = keras.layers.Dense(2)

    def call(self, x):
        return self.d(x)


def test_messages():
    from vis.visualization import visualize_saliency

    sub = _Sub()
    sub(np.zeros((1, 3), "float32"))
    # built: explained (on its output, as it cannot be copied), never told it is "not built"
    raw = visualize_saliency(sub, -1, 0, np.ones((2, 3), "float32"), grad_modifier=None,
                             keepdims=True, normalize=False)
    np.testing.assert_allclose(raw, np.tile(np.asarray(sub.d.kernel)[:, 0], (2, 1)), rtol=1e-6)
    with pytest.raises(ValueError) as err:  # a method that needs its layers says what to do
        visualize_saliency(sub, -1, 0, np.ones((2, 3), "float32"), backprop_modifier="guided")
    assert "not built" not in str(err.value) and "Functional" in str(err.value)
    with pytest.raises(ValueError, match="not built"):
        visualize_saliency(_Sub(), -1, 0, np.ones((2, 3), "float32"))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="overflow"):
        visualize_saliency(model, -1, 0, np.full((1, 3), 1e300))
    image = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"shape \(5, 4, 4\).*x\[\.\.\., None\]"):
        visualize_saliency(image, -1, 0, np.zeros((5, 4, 4), "float32"))
