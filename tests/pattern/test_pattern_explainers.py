"""PatternNet / PatternAttribution backward passes against NumPy references."""

import keras
import numpy as np
import pattern_numpy_reference as ref
import pytest
from conftest import assert_weights_equal, weights_of

from vis.losses import per_sample
from vis.pattern import PatternAttribution, PatternNet, Patterns, fit_patterns, modifier
from vis.visualization import engine, visualize_saliency


def _random_patterns(model, seed=1):
    rng = np.random.default_rng(seed)
    arrays = {name: rng.normal(size=tuple(model.get_layer(name).kernel.shape))
              for name in ("conv", "hidden", "logits")}
    return Patterns(arrays, "linear")


@pytest.fixture(scope="module")
def net():
    model, weights = ref.small_net(seed=0)
    x = np.random.default_rng(3).normal(0.2, 1.0, (5, 6, 6, 1)).astype("float32")
    return model, weights, x, _random_patterns(model)


def test_single_dense_layer_closed_form():
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")])
    model.set_weights([rng.normal(size=(4, 3)).astype("float32"), np.ones(3, "float32")])
    x = rng.normal(size=(64, 4)).astype("float32")
    patterns = fit_patterns(model, x, "linear", verbose=False)
    w, b = (np.asarray(v, "float64") for v in model.get_weights())
    a = patterns["d"]
    y = x[:6] @ w + b
    for k in range(3):
        signal = PatternNet(model, patterns).explain(x[:6], k)
        np.testing.assert_allclose(signal, y[:, k:k + 1] * a[:, k], rtol=1e-5, atol=1e-6)
        attribution = PatternAttribution(model, patterns).explain(x[:6], k)
        np.testing.assert_allclose(attribution, y[:, k:k + 1] * (w[:, k] * a[:, k]), rtol=1e-5,
                                   atol=1e-6)
    idx = np.array([2, 0, 1, 1, 0, 2])
    signal = PatternNet(model, patterns).explain(x[:6], idx)
    np.testing.assert_allclose(signal, y[np.arange(6), idx][:, None] * a[:, idx].T, rtol=1e-5,
                               atol=1e-6)
    single = PatternNet(model, patterns).explain(x[0], 1)
    np.testing.assert_allclose(single, y[0, 1] * a[:, 1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["patternnet", "patternattribution"])
def test_conv_net_matches_numpy_backward(net, kind):
    model, weights, x, patterns = net
    backs = [patterns["conv"], patterns["hidden"], patterns["logits"]]
    if kind == "patternattribution":
        backs = [a * w for a, w in zip(backs, (weights[0], weights[2], weights[4]))]
    explainer = (PatternNet if kind == "patternnet" else PatternAttribution)(model, patterns)
    idx = np.array([0, 1, 2, 1, 0])
    got = explainer.explain(x, per_sample(idx))
    expected = np.stack([ref.patternnet(x[i].astype("float64"), weights, backs, idx[i])
                         for i in range(len(x))])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    assert engine.get_copy(model, explainer.modifier).overrides == 3


def test_softmax_output_is_explained_from_logits(net):
    _, weights, x, _ = net
    model, _ = ref.small_net(seed=0, softmax=True)
    patterns = _random_patterns(model)
    backs = [patterns["conv"], patterns["hidden"], patterns["logits"]]
    got = PatternNet(model, patterns).explain(x[:2], 2)
    expected = np.stack([ref.patternnet(x[i].astype("float64"), weights, backs, 2)
                         for i in range(2)])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_keras_vis_style_modifier_lacks_only_the_logit_factor(net):
    model, weights, x, patterns = net
    raw = visualize_saliency(model, -1, 1, x, backprop_modifier=modifier(patterns),
                             grad_modifier=None, keepdims=True, normalize=False)
    logits = np.asarray(model(x))[:, 1]
    explained = PatternNet(model, patterns).explain(x, 1)
    np.testing.assert_allclose(raw * logits[:, None, None, None], explained, rtol=1e-5,
                               atol=1e-6 * np.abs(explained).max())
    default = visualize_saliency(model, -1, 1, x, backprop_modifier=modifier(patterns))
    scaled = np.abs(explained).max(axis=-1)
    scaled = (scaled - scaled.min(axis=(1, 2), keepdims=True))
    scaled /= scaled.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(default, scaled, atol=1e-5)


def test_user_model_is_not_modified(net):
    model, _, x, patterns = net
    before, out = weights_of(model), np.asarray(model(x))
    PatternAttribution(model, patterns).explain(x, 0)
    assert_weights_equal(model, before)
    np.testing.assert_array_equal(np.asarray(model(x)), out)
    assert all("call" not in vars(layer) for layer in model.layers)


def test_unsupported_layers_and_bad_patterns_raise(net):
    model, _, x, patterns = net
    inp = keras.Input((4,))
    h = keras.layers.Dense(3, name="d")(inp)
    h = keras.layers.BatchNormalization(name="bn")(h)
    bn_model = keras.Model(inp, keras.layers.Dense(2, name="o")(h))
    bn_patterns = Patterns({"d": np.ones((4, 3)), "o": np.ones((3, 2))}, "linear")
    with pytest.raises(ValueError, match="'bn'.*BatchNormalization"):
        PatternNet(bn_model, bn_patterns).explain(np.zeros((1, 4), "float32"), 0)
    tanh = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh", name="t"),
                             keras.layers.Dense(2, name="o")])
    tanh_patterns = Patterns({"t": np.ones((4, 3)), "o": np.ones((3, 2))}, "linear")
    with pytest.raises(ValueError, match="'t' has activation 'tanh'"):
        PatternNet(tanh, tanh_patterns).explain(np.zeros((1, 4), "float32"), 0)
    missing = Patterns({"conv": patterns["conv"], "hidden": patterns["hidden"]}, "linear")
    with pytest.raises(ValueError, match="no pattern for layer 'logits'"):
        PatternNet(model, missing).explain(x, 0)
    wrong = Patterns({**dict(patterns), "logits": np.ones((3, 3))}, "linear")
    with pytest.raises(ValueError, match="'logits' has shape"):
        PatternNet(model, wrong).explain(x, 0)
    with pytest.raises(ValueError, match="out of range"):
        PatternNet(model, patterns).explain(x, 3)
    with pytest.raises(ValueError, match="5 samples"):
        PatternNet(model, patterns).explain(x, [0, 1])
    with pytest.raises(TypeError, match="Patterns"):
        PatternNet(model, {"conv": patterns["conv"]})
    with pytest.raises(ValueError, match="kind"):
        modifier(patterns, "deconvnet")


def test_nested_model_matches_flat_model(net):
    flat, _, x, _ = net
    inner = keras.Sequential([keras.Input((6, 6, 1)),
                              keras.layers.Conv2D(2, 3, padding="same", activation="relu",
                                                  name="conv"),
                              keras.layers.MaxPooling2D(2, name="pool")], name="base")
    inp = keras.Input((6, 6, 1))
    h = keras.layers.Flatten(name="flat")(inner(inp))
    h = keras.layers.Dense(4, activation="relu", name="hidden")(h)
    nested = keras.Model(inp, keras.layers.Dense(3, name="logits")(h))
    nested.set_weights(flat.get_weights())
    fitted_flat = fit_patterns(flat, x, dtype="float64", verbose=False)
    fitted = fit_patterns(nested, x, dtype="float64", verbose=False)
    assert sorted(fitted) == ["base/conv", "hidden", "logits"]
    np.testing.assert_allclose(fitted["base/conv"], fitted_flat["conv"], rtol=1e-9, atol=1e-12)
    for explainer in (PatternNet, PatternAttribution):
        np.testing.assert_allclose(explainer(nested, fitted).explain(x, 2),
                                   explainer(flat, fitted_flat).explain(x, 2), rtol=1e-5,
                                   atol=1e-7)


def test_sequential_regime_search_finds_the_activation_layer():
    from vis.pattern import _layers

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="lin"),
                              keras.layers.Dropout(0.5, name="drop"),
                              keras.layers.Activation("relu", name="act"),
                              keras.layers.Dense(2, activation="softmax", name="out")])
    assert _layers.mask_sources(model) == {"lin": ("act", "out"), "out": ("out", "pre")}


def test_dropout_and_softmax_layers_are_transparent(net):
    from vis.pattern import LRP

    model, _, x, patterns = net
    inp = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv")(inp)
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.Dropout(0.5)(keras.layers.Flatten(name="flat")(h))
    h = keras.layers.Dense(4, activation="relu", name="hidden")(h)
    h = keras.layers.Dense(3, name="logits")(h)
    other = keras.Model(inp, keras.layers.Softmax(name="probs")(h))
    other.set_weights(model.get_weights())
    for make in (lambda m: PatternNet(m, patterns), lambda m: LRP(m, "alpha_beta")):
        np.testing.assert_allclose(make(other).explain(x, 1), make(model).explain(x, 1),
                                   rtol=1e-5, atol=1e-7)
