"""tf-keras-vis's saliency suite, in vis's words: shapes for keepdims, smoothing, dense-only and
two-input models, and mixed precision (a float16 model, also saved and reloaded)."""

import keras
import numpy as np
import pytest
from compat_models import conv_model, dense_model, sample, two_input_model

import vis
from vis.visualization import visualize_saliency, visualize_smoothgrad


@pytest.mark.parametrize("keepdims, shape", [(False, (2, 8, 8)), (True, (2, 8, 8, 3))])
def test_keepdims(keepdims, shape):
    assert visualize_saliency(conv_model(), -1, 0, sample((2, 8, 8, 3)),
                              keepdims=keepdims).shape == shape
    assert vis.explain(conv_model(), sample((2, 8, 8, 3)), "gradient", 0).shape == (2, 8, 8, 3)


@pytest.mark.parametrize("samples", [1, 3, 20])
def test_smoothing(samples):
    maps = visualize_smoothgrad(conv_model(), -1, 0, sample((2, 8, 8, 3)), samples=samples,
                                seed=0)
    assert maps.shape == (2, 8, 8) and np.all(np.isfinite(maps))


def test_dense_only_model():
    maps = visualize_saliency(dense_model(), -1, 0, sample((2, 8)), keepdims=True)
    assert maps.shape == (2, 8)


@pytest.mark.parametrize("keepdims, shapes", [(False, [(2, 8, 8), (2, 10, 10)]),
                                              (True, [(2, 8, 8, 3), (2, 10, 10, 3)])])
def test_two_inputs(keepdims, shapes):
    x = [sample((2, 8, 8, 3)), sample((2, 10, 10, 3), 1)]
    maps = visualize_saliency(two_input_model(), -1, 0, x, keepdims=keepdims)
    assert [m.shape for m in maps] == shapes
    smooth = visualize_smoothgrad(two_input_model(), -1, 0, x, samples=3, seed=0)
    assert [m.shape for m in smooth] == [(2, 8, 8), (2, 10, 10)]


def test_mixed_precision_saved_and_reloaded(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = conv_model()
        model.save(tmp_path / "m.keras")
        for m in (model, keras.saving.load_model(tmp_path / "m.keras")):
            maps = visualize_saliency(m, -1, 0, sample((2, 8, 8, 3)))
            assert maps.shape == (2, 8, 8) and np.all(np.isfinite(maps))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")  # float16 model, float32 policy
    assert np.all(np.isfinite(visualize_saliency(reloaded, -1, 0, sample((2, 8, 8, 3)))))
