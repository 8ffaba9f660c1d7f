"""The cache of model copies and compiled passes: bounded per model, freed by `release`."""

import gc
import weakref

import keras
import numpy as np

import vis.pattern
from vis.pattern import _stream, fit_patterns


def _model():
    return keras.Sequential([keras.Input((4,)),
                             keras.layers.Dense(3, activation="relu", name="a"),
                             keras.layers.Dense(2, name="b")])


def test_cache_is_lru_bounded_and_released(monkeypatch):
    monkeypatch.setattr(_stream, "MAX_STREAMERS_PER_MODEL", 2)
    model, other = _model(), _model()
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    fit_patterns(other, x, "linear", verbose=False)
    configs = [("linear", "float32"), ("linear", "float64"), ("two_component", "float64")]
    keys = []
    for estimator, dtype in configs:  # three different sets of recorded taps
        fit_patterns(model, x, estimator, dtype=dtype, verbose=False)
        keys.append(next(reversed(_stream._STREAMERS[model])))
    assert len(set(keys)) == 3
    assert list(_stream._STREAMERS[model]) == keys[1:]  # the least recently used went first
    streamer = _stream._STREAMERS[model][keys[1]]
    fit_patterns(model, x, "linear", dtype="float64", verbose=False)  # a hit: reused, now newest
    assert list(_stream._STREAMERS[model]) == [keys[2], keys[1]]
    assert _stream._STREAMERS[model][keys[1]] is streamer

    vis.pattern.release(model)
    assert model not in _stream._STREAMERS and other in _stream._STREAMERS
    vis.pattern.release()
    assert len(_stream._STREAMERS) == 0


def test_cache_does_not_keep_the_model_alive():
    model = _model()
    fit_patterns(model, np.ones((4, 4), "float32"), "linear", verbose=False)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None
