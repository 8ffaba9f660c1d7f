"""The cache of model copies and compiled passes: bounded per model, freed by `release`."""

import gc
import weakref

import keras
import numpy as np

import vis
import vis.pattern
from vis import copies
from vis.pattern import _stream, fit_patterns


def _model():
    return keras.Sequential([keras.Input((4,)),
                             keras.layers.Dense(3, activation="relu", name="a"),
                             keras.layers.Dense(2, name="b")])


def _streamers(model):
    return [c for c in copies.copies_of(model) if isinstance(c, _stream.Streamer)]


def test_cache_is_lru_bounded_and_released(monkeypatch):
    monkeypatch.setattr(copies, "MAX_COPIES_PER_MODEL", 2)
    model, other = _model(), _model()
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    fit_patterns(other, x, "linear", verbose=False)
    configs = [("linear", "float32"), ("linear", "float64"), ("two_component", "float64")]
    streamers = []
    for estimator, dtype in configs:  # three different sets of recorded taps
        fit_patterns(model, x, estimator, dtype=dtype, verbose=False)
        streamers.append(_streamers(model)[-1])
    assert len({id(s) for s in streamers}) == 3
    assert _streamers(model) == streamers[1:]  # the least recently used went first
    fit_patterns(model, x, "linear", dtype="float64", verbose=False)  # a hit: reused, now newest
    assert _streamers(model) == [streamers[2], streamers[1]]

    assert vis.pattern.release is vis.release  # one cache, one release
    vis.pattern.release(model)
    assert copies.copies_of(model) == [] and _streamers(other)
    vis.pattern.release()
    assert copies.copies_of(other) == []


def test_cache_does_not_keep_the_model_alive():
    model = _model()
    fit_patterns(model, np.ones((4, 4), "float32"), "linear", verbose=False)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None
