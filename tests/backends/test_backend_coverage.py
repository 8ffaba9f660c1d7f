"""Every part of vis runs on the active Keras backend, and TensorFlow-only features say so.

Backend-neutral (no TensorFlow import): run in the main suite on TensorFlow and by
`test_other_backends.py` under JAX and PyTorch (where TensorFlow cannot even be imported).
"""

import keras
import numpy as np
import pytest
from backend_references import classifier, cnn, images

import vis
from vis import backend

TARGETS = np.array([0, 1, 2, 3, 1])
OTHER_BACKEND = backend.name() != "tensorflow"


@pytest.fixture(scope="module")
def model():
    return cnn()[0]


def test_the_seam_matches_the_active_backend():
    adapter = backend.get()
    assert adapter.__name__ == f"vis.backend._{backend.name()}"
    for function in ("compile", "stateful", "value_and_grad", "vjp", "per_sample_grads",
                     "extract_patches", "float64", "to_tensor", "spec"):
        assert callable(getattr(adapter, function)), function
    with backend.float64():
        value = keras.ops.cast(keras.ops.ones((2,)), "float64") / 3.0
        assert keras.backend.standardize_dtype(value.dtype) == "float64"
        assert backend.to_numpy(value)[0] == 1.0 / 3.0


@pytest.mark.parametrize("method", ["gradient", "guided_backprop", "deconvnet", "lrp_epsilon",
                                    "lrp_alpha_beta", "patternattribution", "gradcam",
                                    "occlusion"])
def test_methods_explain_the_current_weights(method):
    """After the weights change, the cached copies and compiled functions explain the model as
    it is now (custom gradients included): the maps of a fresh model with those weights."""
    model, _ = cnn()
    x = images()
    patterns = vis.pattern.fit_patterns(model, images(40, seed=9), verbose=False)
    options = {"patterns": patterns} if method == "patternattribution" else {}
    before = vis.explain(model, x, method, TARGETS, **options)
    rng = np.random.default_rng(11)
    model.set_weights([w * rng.uniform(0.5, 1.5, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    fresh, _ = cnn()
    fresh.set_weights(model.get_weights())
    after = vis.explain(model, x, method, TARGETS, **options)
    want = vis.explain(fresh, x, method, TARGETS, **options)
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())


def test_guided_backprop_follows_new_prelu_slopes():
    """A rectifier with weights (PReLU): the guided mask uses the slopes the model has now."""

    def build():
        inp = keras.Input((5,))
        h = keras.layers.PReLU(name="prelu")(keras.layers.Dense(4, name="dense")(inp))
        return keras.Model(inp, keras.layers.Dense(2, name="out")(h))

    rng = np.random.default_rng(12)
    model = build()
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    x = rng.normal(size=(6, 5)).astype("float32")
    before = vis.explain(model, x, "guided_backprop", 0)
    model.get_layer("prelu").set_weights([rng.uniform(0.2, 0.8, (4,)).astype("float32")])
    fresh = build()
    fresh.set_weights(model.get_weights())
    after, want = (vis.explain(m, x, "guided_backprop", 0) for m in (model, fresh))
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, want, rtol=1e-6, atol=1e-7)


def test_evaluate_metrics_and_sanity_run(model):
    x = images()
    report = vis.evaluate(model, x, TARGETS, methods=["gradient", "integrated_gradients",
                                                      "random"],
                          metrics=["deletion", "insertion", "faithfulness_correlation",
                                   "sparseness", "max_sensitivity", "model_randomization"],
                          method_options={"integrated_gradients": {"steps": 8}}, seed=0)
    for method, row in report.scores.items():
        assert all(v is not None and np.isfinite(v) for v in row.values()), (method, row)
    result = vis.sanity.model_randomization_test(model, x, TARGETS, "guided_backprop",
                                                 metrics=("spearman",), verbose=False)
    assert np.isfinite(result.scores["spearman"]).all()


def test_data_randomization_trains_with_the_active_backend():
    x = images(32, seed=3)
    y = np.arange(32) % 4
    result = vis.sanity.data_randomization_test(lambda: cnn()[0], x, y, x[:4], y[:4],
                                                "gradient", epochs=1, metrics=("spearman",),
                                                verbose=False)
    assert set(result.train_accuracy) == {"original", "random_labels"}
    assert np.isfinite(result.scores["spearman"]).all()


def test_activation_maximization_is_deterministic(model):
    from vis.visualization import visualize_activation

    a = visualize_activation(model, "probs", 2, input_range=(0.0, 1.0), max_iter=5, seed=0)
    b = visualize_activation(model, "probs", 2, input_range=(0.0, 1.0), max_iter=5, seed=0)
    assert a.shape == (7, 7, 2) and 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)


def test_keras_vis_wrappers_run(model):
    from vis.visualization import visualize_cam, visualize_saliency

    x = images()
    assert visualize_saliency(model, -1, 1, x, backprop_modifier="guided").shape == (5, 7, 7)
    assert visualize_cam(model, -1, 1, x, penultimate_layer_idx="conv1").shape == (5, 7, 7)


def test_pattern_fit_quality_and_explainers(model):
    x = images(64, seed=9)
    patterns = vis.pattern.fit_patterns(model, x, verbose=False, negative=True)
    rho = vis.pattern.signal_quality(model, images(128, seed=10), patterns=patterns,
                                     verbose=False)
    assert set(rho) == {"conv1", "conv2", "probs"}
    assert all(0.0 <= v <= 1.0 for v in rho.values())
    maps = vis.pattern.PatternAttribution(model, patterns).explain(x[:3], [0, 1, 2])
    assert maps.shape == (3, 7, 7, 2) and np.isfinite(maps).all()


def test_pss_fit_profile_and_switch_off():
    model, _ = classifier()
    rng = np.random.default_rng(8)
    x = rng.uniform(-1, 1, (12, 5, 5, 1)).astype("float32")
    y = rng.integers(0, 3, 12)
    psal = vis.pss.ParameterSaliency(model, include_dense=True).fit(x, y, verbose=False)
    assert psal.profile(x[:3], y[:3]).shape == (3, 5)
    result = vis.pss.switch_off_experiment(model, psal, x, y, k=1, n_random=2,
                                           misclassified_only=False)
    assert result.p_top.shape == (12,) and np.isfinite(result.p_top).all()


class _FakeDataset:
    """Looks like a tf.data.Dataset to vis (which checks without importing TensorFlow)."""


_FakeDataset.__name__ = "DatasetV2"
_FakeDataset.__module__ = "tensorflow.python.data.ops.dataset_ops"


@pytest.mark.skipif(not OTHER_BACKEND, reason="TensorFlow has these features")
def test_tensorflow_only_features_name_the_backend_and_the_alternative(model):
    name = backend.name()
    with pytest.raises(ValueError, match=rf"tf\.data.*tensorflow backend.*{name}.*NumPy array"):
        vis.pattern.fit_patterns(model, _FakeDataset(), verbose=False)
    psal = vis.pss.ParameterSaliency(classifier()[0])
    with pytest.raises(ValueError, match=rf"tf\.data.*tensorflow backend.*{name}.*NumPy"):
        psal.fit(_FakeDataset(), verbose=False)
    with pytest.raises(ValueError, match=rf"strategy=.*tensorflow backend.*{name}.*without"):
        psal.fit(np.zeros((2, 5, 5, 1), "float32"), np.zeros(2, int), strategy=object(),
                 verbose=False)


def test_explain_strategy_is_the_backend_own(model):
    """`vis.explain(strategy=)`: tf.distribute on TensorFlow, Keras' DataParallel on JAX (tested
    with two devices in `test_jax_data_parallel.py`), a clear error on PyTorch."""
    x = images()
    name = backend.name()
    if name == "tensorflow":
        with pytest.raises(TypeError, match=r"`strategy` must be a tf\.distribute\.Strategy"):
            vis.explain(model, x, "gradient", strategy=keras.distribution.DataParallel())
    elif name == "torch":
        with pytest.raises(ValueError, match=r"strategy=.*tensorflow backend.*torch.*"
                                             r"JAX backend.*DataParallel"):
            vis.explain(model, x, "gradient", strategy=object())
    else:
        one = keras.distribution.DataParallel(devices=backend_devices()[:1])
        np.testing.assert_allclose(vis.explain(model, x, "gradient", strategy=one),
                                   vis.explain(model, x, "gradient"), rtol=1e-6, atol=1e-8)


def backend_devices() -> list:
    import jax

    return jax.devices()


def test_pss_input_saliency_of_an_integer_input_says_so():
    """uint8 pixels have no gradient: the same clear error on every backend (not zeros)."""
    inp = keras.Input((5, 5, 1), dtype="uint8")
    # (Rescaling needs TensorFlow importable, even on JAX and PyTorch: a Lambda does the same)
    h = keras.layers.Lambda(lambda t: keras.ops.cast(t, "float32") / 255.0)(inp)
    h = keras.layers.Conv2D(2, 3, activation="relu")(h)
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(h)))
    x = np.random.default_rng(0).integers(0, 255, (6, 5, 5, 1)).astype("uint8")
    y = np.array([0, 1, 2, 0, 1, 2])
    psal = vis.pss.ParameterSaliency(model).fit(x, y, verbose=False)
    assert psal.profile(x[:2], y[:2]).shape == (2, 2)
    with pytest.raises(ValueError, match=r"`input_saliency`.*uint8.*float input"):
        psal.input_saliency(x[:2], y[:2], k=1)
