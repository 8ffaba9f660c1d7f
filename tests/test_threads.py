"""Concurrency: threads explaining one model at once give the sequential maps, never mutate it."""

import threading

import keras
import numpy as np
from conftest import assert_weights_equal, weights_of

import vis
from vis.visualization import visualize_cam, visualize_saliency


def _convnet():
    keras.utils.set_random_seed(41)
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inp)
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv2")(h)
    h = keras.layers.Dense(6, activation="relu", name="dense")(keras.layers.Flatten()(h))
    out = keras.layers.Dense(3, activation="softmax", name="out")(h)
    return keras.Model(inp, out)


def _run_threads(jobs):
    results, errors = [None] * len(jobs), []
    barrier = threading.Barrier(len(jobs))

    def work(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except Exception as exc:  # reported below, with the job index
            errors.append((i, exc))

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_six_threads_tracing_new_targets_match_sequential_calls():
    model = _convnet()
    x = np.random.default_rng(41).uniform(size=(3, 8, 8, 1)).astype("float32")
    visualize_saliency(model, "out", 0, x)  # a built copy, as in the reported race
    before = weights_of(model)
    raw = dict(grad_modifier=None, keepdims=True, normalize=False)
    jobs = [
        lambda: visualize_saliency(model, "conv1", 1, x, **raw),
        lambda: visualize_saliency(model, "conv2", 2, x, **raw),
        lambda: visualize_saliency(model, "dense", 3, x, **raw),
        lambda: visualize_saliency(model, "out", 1, x, backprop_modifier="guided", **raw),
        lambda: visualize_cam(model, "out", 2, x, normalize=False),
        lambda: vis.explain(model, x, "integrated_gradients", 1, steps=8),
    ]
    concurrent = _run_threads(jobs)
    vis.release(model)
    sequential = [job() for job in jobs]
    for a, b in zip(concurrent, sequential):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    assert_weights_equal(model, before)


def test_threads_on_the_same_function_and_the_user_model_at_once():
    model = _convnet()
    x = np.random.default_rng(42).uniform(size=(4, 8, 8, 1)).astype("float32")
    expected = [vis.explain(model, x, "gradient", t) for t in range(3)]
    prediction = model.predict(x, verbose=0)
    jobs = [lambda t=t: vis.explain(model, x, "gradient", t) for t in range(3)] * 2
    jobs.append(lambda: model(x).numpy())  # the user's own model, called meanwhile
    got = _run_threads(jobs)
    for i, t in enumerate(list(range(3)) * 2):
        np.testing.assert_allclose(got[i], expected[t], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got[-1], prediction, rtol=1e-5)
