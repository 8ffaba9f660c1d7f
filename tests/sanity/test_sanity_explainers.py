"""Built-in explainers: raw signed maps of the target logit, checked against closed forms."""

import keras
import numpy as np
import pytest

from vis.sanity import explainers
from vis.sanity._common import explain

W1 = np.array([[1.0, -2.0, 0.5, 0.0], [0.5, 1.0, -1.0, 2.0], [-1.0, 0.5, 1.0, 1.0]], "float32")
B1 = np.array([0.1, -0.2, 0.0, -3.0], "float32")  # unit 3 is dead for small inputs
W2 = np.array([[1.0, -1.0], [-2.0, 0.5], [0.5, 1.0], [1.0, 1.0]], "float32")


@pytest.fixture(scope="module")
def mlp():
    inp = keras.Input((3,))
    h = keras.layers.Dense(4, activation="relu", name="hidden")(inp)
    out = keras.layers.Dense(2, activation="softmax", name="out")(h)
    model = keras.Model(inp, out)
    model.get_layer("hidden").set_weights([W1, B1])
    model.get_layer("out").set_weights([W2, np.zeros(2, "float32")])
    return model


@pytest.fixture(scope="module")
def xy():
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    return x, np.array([0, 1, 0, 1, 1])


def _closed_forms(x, y):
    z = x @ W1 + B1
    mask = (z > 0).astype("float32")
    w_out = W2[:, y].T  # (N, 4): d logit_y / d h
    return {
        "gradient": (mask * w_out) @ W1.T,
        "guided_backprop": (mask * np.maximum(w_out, 0)) @ W1.T,
        "deconvnet": np.maximum(w_out, 0) @ W1.T,
    }


@pytest.mark.parametrize("name", ["gradient", "guided_backprop", "deconvnet"])
def test_backprop_explainers_match_closed_forms(mlp, xy, name):
    x, y = xy
    got = explainers.get(name)(mlp, x, y)
    np.testing.assert_allclose(got, _closed_forms(x, y)[name], rtol=1e-5, atol=1e-6)


def test_input_based_explainers(mlp, xy):
    x, y = xy
    grad = _closed_forms(x, y)["gradient"]
    np.testing.assert_allclose(explainers.gradient_x_input(mlp, x, y), x * grad, rtol=1e-5,
                               atol=1e-6)
    ig = explainers.integrated_gradients(mlp, x, y, steps=200)
    logits = lambda v: np.maximum(v @ W1 + B1, 0) @ W2  # noqa: E731
    completeness = logits(x)[np.arange(5), y] - logits(np.zeros_like(x))[np.arange(5), y]
    np.testing.assert_allclose(ig.sum(axis=1), completeness, rtol=2e-2, atol=2e-2)


def test_smoothgrad_of_a_linear_model_is_its_gradient():
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(2, name="lin")(inp))
    kernel = model.get_layer("lin").get_weights()[0]
    x = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    y = np.array([0, 1, 1, 0])
    got = explainers.smoothgrad(model, x, y, samples=8)
    np.testing.assert_allclose(got, kernel[:, y].T, rtol=1e-5)
    np.testing.assert_array_equal(explainers.smoothgrad(model, x, y, samples=8), got)


def test_cam_explainers_on_the_digits_cnn(digits_cnn):
    from vis.visualization import visualize_cam

    model, _, (xte, yte) = digits_cnn
    x, y = xte[:6], yte[:6]
    cams = explainers.gradcam(model, x, y)
    assert cams.shape == (6, 8, 8) and cams.min() >= 0
    guided = explainers.guided_gradcam(model, x, y)
    assert guided.shape == x.shape
    gb = explainers.guided_backprop(model, x, y)
    np.testing.assert_allclose(guided, gb * cams[..., None], rtol=1e-5, atol=1e-7)
    for i in range(6):  # per-sample targets equal single-class calls
        one = visualize_cam(model, -1, int(y[i]), x[i], normalize=False)
        np.testing.assert_allclose(cams[i], one, rtol=1e-5, atol=1e-7)


def test_batch_size_is_passed_only_to_explainers_that_accept_it(mlp, xy):
    x, y = xy
    got = {}

    def with_batch(model, xb, yb, batch_size=None):
        got["batch_size"] = batch_size
        return xb

    def without(model, xb, yb):
        return xb

    explain(with_batch, mlp, x, y, 2, "test")
    assert got["batch_size"] == 2
    explain(without, mlp, x, y, 2, "test")
    np.testing.assert_array_equal(explain(explainers.gradient, mlp, x, y, 2, "test"),
                                  explainers.gradient(mlp, x, y))


def test_registry():
    """The sanity checks use the one method registry: canonical names, aliases, callables."""
    from vis import methods

    assert set(explainers.names()) >= {
        "gradient", "guided_backprop", "deconvnet", "smoothgrad", "integrated_gradients",
        "gradient_x_input", "gradcam", "guided_gradcam", "patternnet", "patternattribution",
        "lrp_epsilon",
    }
    assert explainers.get("gradient") is explainers.gradient
    assert explainers.get("guided") is explainers.get("guided_backprop")  # old spelling
    assert explainers.get("lrp").method.name == "lrp_epsilon"

    def mine(model, x, y):
        return x

    assert explainers.get(mine) is mine
    explainers.register("mine", mine)
    try:
        assert explainers.get("mine").method.raw is mine
        assert "mine" in methods.names()
    finally:
        methods.unregister("mine")
    with pytest.raises(ValueError, match="Valid names: .*guided_backprop"):
        explainers.get("guidedd")
    with pytest.raises(TypeError):
        explainers.get(42)
    with pytest.raises(TypeError):
        explainers.register("bad", 3)


def _randomized_copy(model, paths, seed=0):
    from vis.sanity import reinitialize_layer
    from vis.utils.model import copy_model

    ref = copy_model(model)
    for path in paths:
        layer = ref.get_layer(path)
        layer.set_weights(reinitialize_layer(layer, seed, path))
    return ref


def test_pattern_explainers_fit_each_randomized_model_on_x(digits_cnn):
    """Each step's map is the method on a fresh randomized copy with patterns fitted there."""
    from vis.losses import per_sample
    from vis.pattern import LRP, PatternAttribution, fit_patterns
    from vis.sanity import model_randomization_test

    model, _, (xte, yte) = digits_cnn
    x, y = xte[:16], yte[:16]
    steps = ["predictions", "conv1"]
    pa = model_randomization_test(model, x, y, "patternattribution", layers=steps,
                                  metrics=("spearman",), verbose=False)
    lrp = model_randomization_test(model, x, y, "lrp", layers=steps, metrics=("spearman",),
                                   verbose=False)
    for k, step in enumerate(["original", *steps]):
        ref = _randomized_copy(model, steps[:k])
        patterns = fit_patterns(ref, x, verbose=False)
        want = PatternAttribution(ref, patterns).explain(x, per_sample(y))
        np.testing.assert_allclose(pa.maps[step], want, rtol=1e-4, atol=1e-6 * np.abs(want).max())
        want = LRP(ref).explain(x, per_sample(y))
        np.testing.assert_allclose(lrp.maps[step], want, rtol=1e-4, atol=1e-6 * np.abs(want).max())
    assert not np.allclose(pa.maps["predictions"], pa.maps["original"])
    net = explainers.patternnet(model, x, y)
    assert net.shape == x.shape and np.all(np.isfinite(net))
