"""fit_patterns against an independent NumPy computation (patches by hand, float64)."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pattern_numpy_reference as ref
import pytest
import tensorflow as tf
from conftest import assert_weights_equal, weights_of

from vis.pattern import Patterns, fit_patterns

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def _cnn2d():
    inp = keras.Input((7, 7, 2))
    h = keras.layers.Conv2D(3, 3, strides=2, padding="same", activation="relu", name="c1")(inp)
    h = keras.layers.Conv2D(4, 2, padding="same", name="c2")(h)  # asymmetric 'same' padding
    h = keras.layers.Activation("relu", name="act")(h)  # c2's regime comes from here
    h = keras.layers.Conv2D(2, 2, dilation_rate=2, activation="relu", name="c3")(h)
    h = keras.layers.Flatten(name="flat")(h)
    h = keras.layers.Dense(5, activation="relu", name="d1")(h)
    out = keras.layers.Dense(3, name="out")(h)  # linear: regime = its own output > 0
    return _randomize(keras.Model(inp, out), 1)


def _cnn1d():
    inp = keras.Input((9, 2))
    h = keras.layers.Conv1D(3, 3, strides=2, padding="causal", activation="relu", name="k1")(inp)
    h = keras.layers.Conv1D(2, 2, dilation_rate=2, padding="same", activation="relu", name="k2")(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(2, activation="softmax", name="out")(h)  # regime: logits > 0
    return _randomize(keras.Model(inp, out), 2)


def _cnn3d():
    inp = keras.Input((4, 5, 3, 1))
    h = keras.layers.Conv3D(2, (2, 3, 2), strides=(2, 1, 1), padding="same", activation="relu",
                            name="v1")(inp)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(2, name="out")(h)
    return _randomize(keras.Model(inp, out), 3)


def _reference(model, x, geometry, sources):
    """Per-layer NumPy patterns: {path: (linear, two_component+, two_component-)}.

    `sources[name]` is the layer whose output decides the regime, or `"logits"` for a Dense layer
    with a fused softmax (its pre-softmax output, computed here from its input).
    """
    names = list(geometry)
    taps = [model.get_layer(n).input for n in names] + [
        model.get_layer(n if sources[n] == "logits" else sources[n]).output for n in names]
    values = keras.Model(model.input, taps)(x)
    values = [np.asarray(v, dtype="float64") for v in values]
    out = {}
    for i, name in enumerate(names):
        xin, src = values[i], values[len(names) + i]
        layer = model.get_layer(name)
        if sources[name] == "logits":
            src = xin @ np.asarray(layer.kernel, "float64") + np.asarray(layer.bias, "float64")
        units = layer.kernel.shape[-1]
        rows = geometry[name](xin)
        w = np.asarray(layer.kernel, dtype="float64").reshape(-1, units)
        mask = src.reshape(-1, units)
        out[name] = (ref.patterns(rows, w), ref.patterns(rows, w, mask, "pos"),
                     ref.patterns(rows, w, mask, "neg"), ref.filter_patterns(w))
    return out


def _dense(x):
    return x.reshape(-1, x.shape[-1])


CASES = {
    "2d": (_cnn2d, (7, 7, 2), {
        "c1": lambda x: ref.patches_2d(x, (3, 3), (2, 2), padding="same"),
        "c2": lambda x: ref.patches_2d(x, (2, 2), padding="same"),
        "c3": lambda x: ref.patches_2d(x, (2, 2), dilation=(2, 2)),
        "d1": _dense, "out": _dense,
    }, {"c1": "c1", "c2": "act", "c3": "c3", "d1": "d1", "out": "out"}),
    "1d": (_cnn1d, (9, 2), {
        "k1": lambda x: ref.patches_1d(x, 3, stride=2, padding="causal"),
        "k2": lambda x: ref.patches_1d(x, 2, dilation=2, padding="same"),
        "out": _dense,
    }, {"k1": "k1", "k2": "k2", "out": "logits"}),
    "3d": (_cnn3d, (4, 5, 3, 1), {
        "v1": lambda x: ref.patches_nd(x, (2, 3, 2), (2, 1, 1), (1, 1, 1), "same"),
        "out": _dense,
    }, {"v1": "v1", "out": "out"}),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    build, shape, geometry, sources = CASES[request.param]
    model = build()
    x = np.random.default_rng(7).normal(0.3, 1.0, (40,) + shape).astype("float32")
    return model, x, _reference(model, x, geometry, sources)


@pytest.mark.parametrize("name", list(CASES))
def test_explicit_patches_match_hand_extraction(name):
    """`_layers.patches` (used by signal_quality) against the loops of the NumPy reference."""
    from vis.pattern import _layers

    build, shape, geometry, _ = CASES[name]
    model = build()
    x = np.random.default_rng(8).normal(size=(3,) + shape).astype("float32")
    names = list(geometry)
    inputs = keras.Model(model.input, [model.get_layer(n).input for n in names])(x)
    for layer_name, xin in zip(names, inputs):
        got = _layers.patches(model.get_layer(layer_name), tf.constant(xin))
        np.testing.assert_array_equal(np.asarray(got), geometry[layer_name](np.asarray(xin)))


@pytest.fixture(scope="module")
def fits(case):
    model, x, _ = case
    return {est: fit_patterns(model, x, est, batch_size=16, verbose=False, dtype="float64",
                              negative=True)
            for est in ("filter", "linear", "relu")}


def test_linear_and_filter_match_numpy(case, fits):
    model, x, expected = case
    linear, filt = fits["linear"], fits["filter"]
    assert linear.estimator == "linear" and linear.negative is None
    assert sorted(linear) == sorted(expected)
    for name, (lin, _, _, flt) in expected.items():
        assert linear[name].shape == tuple(model.get_layer(name).kernel.shape)
        np.testing.assert_allclose(linear[name].reshape(lin.shape), lin, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(filt[name].reshape(flt.shape), flt, rtol=1e-12)


def test_two_component_matches_numpy(case, fits):
    model, x, expected = case
    fitted = fits["relu"]
    positive_only = fit_patterns(model, x, verbose=False, dtype="float64")  # negative=False
    assert fitted.estimator == "two_component" and positive_only.negative is None
    for name, (_, pos, neg, _) in expected.items():
        np.testing.assert_allclose(fitted[name].reshape(pos.shape), pos, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(fitted.negative[name].reshape(neg.shape), neg, rtol=1e-7,
                                   atol=1e-10)
        np.testing.assert_allclose(positive_only[name], fitted[name], rtol=1e-9, atol=1e-12)


def test_patterns_are_normalized_and_finite(case, fits):
    model, x, _ = case
    for fitted in fits.values():
        for name, a in fitted.items():
            w = np.asarray(model.get_layer(name).kernel, dtype="float64").reshape(-1, a.shape[-1])
            a = a.reshape(w.shape)
            assert np.all(np.isfinite(a))
            wa = np.sum(w * a, axis=0)
            nonzero = np.any(a != 0, axis=0)  # zero denominator -> numerator (0 for dead units)
            np.testing.assert_allclose(wa[nonzero], 1.0, rtol=1e-9)


def test_zero_denominator_gives_finite_pattern():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="relu")])
    kernel = np.array([[1.0, 0.0, 1.0], [2.0, 0.0, 0.0], [0.0, 0.0, -1.0]], "float32")
    model.layers[0].set_weights([kernel, np.array([0.0, 0.0, -100.0], "float32")])  # unit 2 dead
    x = np.random.default_rng(0).normal(size=(50, 3)).astype("float32")
    for estimator in ("filter", "linear", "two_component"):
        a = fit_patterns(model, x, estimator, verbose=False)[model.layers[0].name]
        assert np.all(np.isfinite(a))
        np.testing.assert_array_equal(a[:, 1], 0.0)  # zero filter
    a = fit_patterns(model, x, "two_component", verbose=False)[model.layers[0].name]
    np.testing.assert_array_equal(a[:, 2], 0.0)  # never active: no positive-regime sample


def test_paper_toy_problem_recovers_signal_direction():
    a_s, a_d, w = np.array([1.0, 0.0]), np.array([1.0, 1.0]), np.array([1.0, -1.0])
    assert w @ a_d == 0
    rng = np.random.default_rng(0)
    n = 20000
    s, d = rng.normal(size=n), rng.normal(size=n)
    x = (np.outer(s, a_s) + np.outer(d, a_d)).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    model.layers[0].set_weights([w[:, None].astype("float32")])
    name = model.layers[0].name
    linear = fit_patterns(model, x, "linear", verbose=False)[name].ravel()
    np.testing.assert_allclose(linear, a_s, atol=1e-2)
    np.testing.assert_allclose(fit_patterns(model, x, "filter", verbose=False)[name].ravel(),
                               w / 2)
    # exactly a_s when s and d are exactly uncorrelated in the sample
    s0, d0 = s - s.mean(), d - d.mean()
    d0 -= s0 * (s0 @ d0) / (s0 @ s0)
    x0 = (np.outer(s0, a_s) + np.outer(d0, a_d)).astype("float64")
    model64 = keras.Sequential([keras.Input((2,), dtype="float64"),
                                keras.layers.Dense(1, use_bias=False, dtype="float64")])
    model64.layers[0].set_weights([w[:, None]])
    exact = fit_patterns(model64, x0, "linear", dtype="float64",
                         verbose=False)[model64.layers[0].name].ravel()
    np.testing.assert_allclose(exact, a_s, atol=1e-9)


def test_dataset_forms_and_batch_sizes_agree(case, fits):
    model, x, _ = case
    base = fits["relu"]  # arrays, batch_size=16
    labels = np.arange(len(x))
    variants = [
        fit_patterns(model, tf.data.Dataset.from_tensor_slices(x).batch(11), dtype="float64",
                     negative=True, verbose=False),
        fit_patterns(model, tf.data.Dataset.from_tensor_slices((x, labels)).batch(40),
                     dtype="float64", negative=True, verbose=False),
        fit_patterns(model, tf.data.Dataset.from_tensor_slices(x), batch_size=7,
                     dtype="float64", negative=True, verbose=False),
    ]
    for other in variants:
        for name in base:
            np.testing.assert_allclose(other[name], base[name], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(other.negative[name], base.negative[name], rtol=1e-9,
                                       atol=1e-12)


def test_default_float32_products_are_close(case, fits):
    model, x, _ = case
    exact = fits["relu"]
    fast = fit_patterns(model, x, negative=True, verbose=False)  # float32 products, f64 sums
    for name in exact:
        for got, want in ((fast[name], exact[name]), (fast.negative[name], exact.negative[name])):
            scale = np.max(np.abs(want))
            np.testing.assert_allclose(got, want, atol=2e-5 * scale)


def test_model_is_not_modified():
    model = _cnn2d()
    x = np.random.default_rng(0).normal(size=(8, 7, 7, 2)).astype("float32")
    before, out = weights_of(model), np.asarray(model(x))
    fit_patterns(model, x, verbose=False)
    assert_weights_equal(model, before)
    np.testing.assert_array_equal(np.asarray(model(x)), out)


def test_save_load_roundtrip(tmp_path, fits):
    fitted = fits["relu"]
    path = tmp_path / "p.npz"
    fitted.save(path)
    loaded = Patterns.load(path)
    assert loaded.digest == fitted.digest and loaded.estimator == "two_component"
    for name in fitted:
        np.testing.assert_array_equal(loaded[name], fitted[name])
        np.testing.assert_array_equal(loaded.negative[name], fitted.negative[name])
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="Patterns.save"):
        Patterns.load(tmp_path / "other.npz")


def test_errors_name_the_problem():
    model = _cnn2d()
    x = np.zeros((4, 7, 7, 2), "float32")
    with pytest.raises(ValueError, match="Unknown `estimator`"):
        fit_patterns(model, x, "pca", verbose=False)
    with pytest.raises(ValueError, match=r"\(7, 7, 2\)"):
        fit_patterns(model, np.zeros((4, 6, 7, 2), "float32"), verbose=False)
    with pytest.raises(ValueError, match="NaN"):
        fit_patterns(model, np.full((4, 7, 7, 2), np.nan, "float32"), verbose=False)
    with pytest.raises(ValueError, match="batch_size"):
        fit_patterns(model, x, batch_size=0, verbose=False)
    with pytest.raises(ValueError, match="dtype"):
        fit_patterns(model, x, dtype="float16", verbose=False)
    with pytest.raises(TypeError, match="data"):
        fit_patterns(model, "images", verbose=False)
    inp = keras.Input((5, 5, 1))
    h = keras.layers.Conv2DTranspose(2, 3, name="up")(inp)
    bad = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(h)))
    with pytest.raises(ValueError, match="'up'.*Conv2DTranspose"):
        fit_patterns(bad, np.zeros((2, 5, 5, 1), "float32"), verbose=False)
    shared = keras.layers.Dense(3, name="shared")
    inp = keras.Input((3,))
    twice = keras.Model(inp, shared(shared(inp)))
    with pytest.raises(ValueError, match="'shared'.*more than once"):
        fit_patterns(twice, np.zeros((2, 3), "float32"), "linear", verbose=False)


def test_batchnorm_in_the_regime_search():
    inp = keras.Input((6,))
    z = keras.layers.Dense(4, name="lin")(inp)
    h = keras.layers.BatchNormalization(name="bn")(z)
    h = keras.layers.Activation("relu", name="relu")(h)
    model = _randomize(keras.Model(inp, keras.layers.Dense(2, name="out")(h)), 5)
    bn = model.get_layer("bn")
    bn.set_weights([np.abs(w) + 0.5 for w in bn.get_weights()])  # positive moving variance
    x = np.random.default_rng(1).normal(size=(30, 6)).astype("float32")
    fitted = fit_patterns(model, x, dtype="float64", verbose=False)
    rows, mask = (np.asarray(v, "float64") for v in
                  keras.Model(inp, [inp, model.get_layer("relu").output])(x))
    w = np.asarray(model.get_layer("lin").kernel, "float64")
    np.testing.assert_allclose(fitted["lin"], ref.patterns(rows, w, mask), rtol=1e-7, atol=1e-10)


_DISTRIBUTED = textwrap.dedent("""
    import os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np
    from vis.pattern import _layers, fit_patterns
    from vis.pattern.fit import collect_stats
    from vis.utils.digits import build_digits_cnn
    model = build_digits_cnn(filters=(4, 8))
    x = np.random.default_rng(0).random((90, 8, 8, 1), dtype=np.float32)
    plain = fit_patterns(model, x, batch_size=32, verbose=False, dtype="float64", negative=True)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        dist = fit_patterns(model, x, batch_size=32, verbose=False, dtype="float64",
                            negative=True)
        dist32 = fit_patterns(model, x, batch_size=32, verbose=False)
        stats = collect_stats(model, x, _layers.kernel_layers(model), True, 32, False)
    assert strategy.num_replicas_in_sync == 2
    assert stats["dense"].n == 90 and stats["conv1"].n == 90 * 64, (stats["dense"].n,)
    plain32 = fit_patterns(model, x, batch_size=32, verbose=False)
    for name in plain:
        np.testing.assert_allclose(dist32[name], plain32[name],
                                   atol=2e-5 * np.abs(plain32[name]).max())
        np.testing.assert_allclose(dist[name], plain[name], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dist.negative[name], plain.negative[name], rtol=1e-9,
                                   atol=1e-12)
    print("DISTRIBUTED-OK")
""")


@pytest.mark.slow
def test_fit_under_mirrored_strategy_with_two_logical_cpus():
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", _DISTRIBUTED], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DISTRIBUTED-OK" in proc.stdout


def test_refit_follows_weight_changes():
    """The cached copy is re-synchronised: a second fit sees the model's new weights."""
    rng = np.random.default_rng(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    x = rng.normal(1.0, 1.0, (64, 4)).astype("float32")
    for _ in range(2):
        model.set_weights([rng.normal(size=(4, 2)).astype("float32"), np.zeros(2, "float32")])
        fitted = fit_patterns(model, x, "linear", dtype="float64", verbose=False)
        w = np.asarray(model.get_weights()[0], "float64")
        np.testing.assert_allclose(fitted["d"], ref.patterns(x, w), rtol=1e-7, atol=1e-10)
