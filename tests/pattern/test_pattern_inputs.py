"""What fit_patterns / signal_quality / the explainers accept: uint8 arrays without a whole copy,
infinite datasets with `steps`, subclassed models (rejected clearly), preprocessing layers."""

import tracemalloc

import keras
import numpy as np
import pattern_numpy_reference as ref
import pytest
import tensorflow as tf

from vis.pattern import (
    LRP,
    PatternAttribution,
    PatternNet,
    Patterns,
    _data,
    compare_maps,
    fit_patterns,
    signal_quality,
)


def _conv_model(shape=(28, 28, 3)):
    inp = keras.Input(shape)
    h = keras.layers.Conv2D(2, 3, strides=3, activation="relu", name="c")(inp)
    out = keras.layers.Dense(2, name="o")(keras.layers.Flatten()(h))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in model.get_weights()])
    return model


def test_uint8_array_is_streamed_without_a_whole_copy():
    model = _conv_model()
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (4000, 28, 28, 3), dtype=np.uint8)  # 9.4 MB
    fit_patterns(model, x[:70], "linear", batch_size=64, verbose=False)  # trace outside the window
    tracemalloc.start()
    try:
        fitted = fit_patterns(model, x, "linear", batch_size=64, verbose=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the old path converted the whole array to float32 (4x) and checked it (1x more); now a
    # batch or two are cast at a time (600 kB each), plus the tracing of the input pipeline
    assert peak < 0.35 * x.nbytes, (peak, x.nbytes)
    # and the result is that of the float array
    exact = fit_patterns(model, x.astype("float32"), "linear", batch_size=64, verbose=False,
                         dtype="float64")
    for name in exact:
        np.testing.assert_allclose(fitted[name], exact[name], atol=1e-5 * np.abs(exact[name]).max())


def test_float_arrays_are_checked_in_chunks(monkeypatch):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    x = np.ones((50, 4), "float32")
    x[-1, 2] = np.inf
    monkeypatch.setattr(_data, "_CHECK_ROWS_BYTES", 64)  # 4 rows per chunk: the last one has inf
    with pytest.raises(ValueError, match="NaN or inf"):
        fit_patterns(model, x, verbose=False)


def _dense_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu",
                                                                    name="d")])
    model.set_weights([np.random.default_rng(2).normal(size=(4, 3)).astype("float32"),
                       np.array([0.1, -0.2, 0.0], "float32")])
    return model


def test_infinite_dataset_needs_steps():
    model = _dense_model()
    x = np.random.default_rng(3).normal(size=(96, 4)).astype("float32")
    w = np.asarray(model.get_weights()[0], "float64")
    endless = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).batch(16).repeat()
    with pytest.raises(ValueError, match="infinite.*steps"):
        fit_patterns(model, endless, verbose=False)
    with pytest.raises(ValueError, match="infinite.*steps"):
        signal_quality(model, endless, "linear", verbose=False)
    with pytest.raises(ValueError, match="steps"):
        fit_patterns(model, endless, steps=0, verbose=False)
    # 4 batches of 16 = the first 64 samples
    fitted = fit_patterns(model, endless, "linear", steps=4, dtype="float64", verbose=False)
    np.testing.assert_allclose(fitted["d"], ref.patterns(x[:64].astype("float64"), w), rtol=1e-9)
    # 8 batches go round the 6 real ones: the data is read again (samples 0..31 twice)
    twice = fit_patterns(model, endless, "linear", steps=8, dtype="float64", verbose=False)
    np.testing.assert_allclose(twice["d"], ref.patterns(np.concatenate([x, x[:32]]), w),
                               rtol=1e-9)
    # unbatched datasets and arrays: `steps` batches of `batch_size`
    unbatched = tf.data.Dataset.from_tensor_slices(x).repeat()
    for data in (unbatched, x):
        got = fit_patterns(model, data, "linear", steps=3, batch_size=20, dtype="float64",
                           verbose=False)
        np.testing.assert_allclose(got["d"], ref.patterns(x[:60].astype("float64"), w), rtol=1e-9)
    # signal_quality cuts first, then holds out
    rho = signal_quality(model, endless, "linear", steps=4, verbose=False)
    assert rho["d"] == pytest.approx(signal_quality(model, x[:64], "linear", verbose=False)["d"],
                                     abs=1e-12)


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2, name="d")

    def call(self, inputs):
        return self.dense(inputs)


class _FunctionalSubclass(keras.Model):
    """A subclass built with inputs/outputs is a Functional model: accepted."""


def test_subclassed_models_are_rejected_clearly():
    model = _Subclassed()
    x = np.zeros((2, 4), "float32")
    model(x)  # built
    patterns = Patterns({"d": np.ones((4, 2))}, "linear")
    calls = {
        "fit_patterns": lambda m: fit_patterns(m, x, verbose=False),
        "signal_quality": lambda m: signal_quality(m, x, "linear", verbose=False),
        "PatternNet": lambda m: PatternNet(m, patterns),
        "PatternAttribution": lambda m: PatternAttribution(m, patterns),
        "LRP": lambda m: LRP(m),
        "compare_maps": lambda m: compare_maps(m, x, 0, methods=("gradient",)),
    }
    inp = keras.Input((4,))
    nested = keras.Model(inp, _Subclassed()(inp))
    for call in calls.values():
        with pytest.raises(TypeError, match="subclassed.*Functional API"):
            call(model)
        with pytest.raises(TypeError, match="Nested model .*subclassed"):
            call(nested)
    inp = keras.Input((4,))
    ok = _FunctionalSubclass(inp, keras.layers.Dense(2, name="d")(inp), name="fsub")
    fitted = fit_patterns(ok, np.random.default_rng(0).normal(size=(8, 4)), "linear",
                          verbose=False)
    assert PatternNet(ok, fitted).explain(x, 0).shape == x.shape


def test_preprocessing_layers_fit_but_are_rejected_by_explain():
    rng = np.random.default_rng(4)
    x = rng.normal(3.0, 2.0, (64, 4)).astype("float32")
    norm = keras.layers.Normalization(name="norm")
    norm.adapt(x)
    for pre in (keras.layers.Rescaling(0.5, offset=1.0, name="resc"), norm):
        model = keras.Sequential([keras.Input((4,)), pre,
                                  keras.layers.Dense(3, activation="relu", name="d"),
                                  keras.layers.Dense(2, name="o")])
        w = np.asarray(model.get_layer("d").kernel, "float64")
        for _ in range(2):
            fitted = fit_patterns(model, x, "linear", dtype="float64", verbose=False)
            z = np.asarray(pre(x), "float64")  # the Dense layer's input
            np.testing.assert_allclose(fitted["d"], ref.patterns(z, w), rtol=1e-7)
            if pre is norm:  # re-adapted: the cached copy must follow (finalize_state)
                norm.adapt(x[:16] * 3.0)
        for explainer in (PatternNet(model, fitted), LRP(model)):
            with pytest.raises(ValueError, match=f"preprocessing layer '{pre.name}'"):
                explainer.explain(x[:2], 0)
