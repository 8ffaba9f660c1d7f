"""Bounded caches under load: 1,000 new models leave no copies, traced functions or memory behind;
two threads explaining one model with the streamed methods get the sequential maps."""

import gc
import resource
import threading
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

import vis
from vis import copies


def _rss_mb() -> float:
    """The current resident memory (Linux `/proc`), else the peak (`ru_maxrss`), in MB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _live_traced_functions() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, tf.types.experimental.PolymorphicFunction))


def _call_a_new_model(x, explain: bool = True) -> weakref.ref:
    """Builds a new model and explains it (or runs the engine's compiled forward pass: the
    same copy and compiled-function caches, at a third of the tracing cost), then drops it."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    out = vis.explain(model, x, "gradient", 0) if explain else vis.engine.predict(model, x)
    assert np.all(np.isfinite(out))
    return weakref.ref(model)


@pytest.mark.slow
def test_a_thousand_new_models_leave_nothing_behind():
    x = np.ones((2, 3), "float32")
    for _ in range(20):  # warm up: TensorFlow's and Keras' own one-time allocations
        _call_a_new_model(x)
    gc.collect()
    rss, functions, before = _rss_mb(), _live_traced_functions(), len(copies._CACHE)
    cached, models = [], []
    for i in range(1000):  # every 20th model explained, the others run: about 35 s
        models.append(_call_a_new_model(x, explain=i % 20 == 0))
        if i % 250 == 249:
            gc.collect()
            cached.append(len(copies._CACHE) - before)
    gc.collect()
    # the weak cache empties as the models are collected (other tests' models may stay)
    assert max(cached) <= 2, cached
    assert len(copies._CACHE) <= before
    assert all(ref() is None for ref in models), "vis keeps some of the models alive"
    grown = _live_traced_functions() - functions
    assert grown <= 10, f"{grown} more traced functions alive after 1,000 models"
    assert _rss_mb() - rss < 400, f"RSS grew by {_rss_mb() - rss:.0f} MB"


def test_two_threads_on_streamed_methods_match_sequential_calls():
    keras.utils.set_random_seed(5)
    inp = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inp)
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(h)))
    x = np.random.default_rng(5).uniform(size=(3, 6, 6, 1)).astype("float32")
    jobs = [
        lambda: vis.explain(model, x, "gradient", 1, smooth={"samples": 6, "seed": 1},
                            batch_size=4),
        lambda: vis.explain(model, x, "integrated_gradients", 2, steps=9, batch_size=5),
        lambda: vis.explain(model, x, "occlusion", 0, window=2, batch_size=7),
        lambda: vis.explain(model, x, "rise", 1, masks=30, cells=2, batch_size=8),
    ] * 2
    results, errors = [None] * len(jobs), []
    barrier = threading.Barrier(len(jobs))

    def work(i):
        try:
            barrier.wait()
            results[i] = jobs[i]()
        except Exception as exc:  # reported below
            errors.append((i, exc))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, job in enumerate(jobs[:4]):
        expected = job()
        for got in (results[i], results[i + 4]):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-8)
