"""The one model-copy module: every consumer (engine, pattern, pss, sanity) on one cache.

Each consumer works on a copy of the user's model kept in `vis.copies`: a re-`adapt()` of the
user's Normalization layer is seen by every copy, `vis.release` frees all of them, the cache stays
bounded, and the user's model (weights, layer calls and activations) is never touched, also when
a consumer raises.
"""

import gc
import weakref

import keras
import numpy as np
import pytest

import vis
from vis import copies, engine
from vis.losses import ActivationMaximization, per_sample
from vis.pattern import _stream, fit_patterns
from vis.pss import ParameterSaliency
from vis.pss import _working_copy as pss_copy
from vis.sanity import model_randomization_test
from vis.sanity import randomization as sanity
from vis.utils.model import iter_layers

RNG = np.random.default_rng(7)
DATA_A = RNG.normal(0.0, 1.0, (64, 4)).astype("float32")
DATA_B = RNG.normal(3.0, 2.0, (64, 4)).astype("float32")
X = RNG.normal(1.5, 2.0, (24, 4)).astype("float32")
Y = RNG.integers(0, 3, 24)


def _model(adapt_on, weights_of=None):
    """`Input -> Normalization -> Dense(relu) -> Dense(3)`; weights from `weights_of` if given."""
    norm = keras.layers.Normalization(name="norm")
    norm.adapt(adapt_on)
    inp = keras.Input((4,), name="x")
    h = keras.layers.Dense(5, activation="relu", name="hidden")(norm(inp))
    model = keras.Model(inp, keras.layers.Dense(3, name="logits")(h), name="normed")
    if weights_of is not None:
        for name in ("hidden", "logits"):
            model.get_layer(name).set_weights(weights_of.get_layer(name).get_weights())
    return model


def _engine(model):
    return vis.explain(model, X, "gradient", targets=0)


def _pattern(model):
    fitted = fit_patterns(model, X, "linear", dtype="float64", verbose=False)
    return np.concatenate([fitted[name].ravel() for name in ("hidden", "logits")])


def _pss(psal):
    psal.fit(X, Y, batch_size=8, verbose=False)
    return np.concatenate([psal.mean_, psal.std_])


def _sanity(model):
    result = model_randomization_test(model, X, None, "gradient", target="predicted",
                                      metrics=("spearman",), layers=["logits"], verbose=False)
    return result.maps["original"], result.targets["original"]


def _kinds(model):
    return {type(c) for c in copies.copies_of(model)}


CONSUMERS = {copies.ModelCopy, _stream.Streamer, pss_copy._TransformedCopy, sanity._Workspace}


def test_every_consumer_follows_a_re_adapted_normalization():
    model = _model(DATA_A)
    psal = ParameterSaliency(model, include_dense=True)
    assert psal.method == "patches"  # a transformed copy with taps
    before = {"engine": _engine(model), "pattern": _pattern(model), "pss": _pss(psal),
              "sanity": _sanity(model)[0]}
    assert _kinds(model) == CONSUMERS  # every consumer has its copy cached

    model.get_layer("norm").adapt(DATA_B)  # the user's layer, re-adapted
    fresh = _model(DATA_B, weights_of=model)
    np.testing.assert_allclose(model(X), fresh(X), rtol=1e-6)
    after = {"engine": _engine(model), "pattern": _pattern(model), "pss": _pss(psal),
             "sanity": _sanity(model)[0]}
    want = {"engine": _engine(fresh), "pattern": _pattern(fresh),
            "pss": _pss(ParameterSaliency(fresh, include_dense=True)),
            "sanity": _sanity(fresh)[0]}
    for name in before:
        assert not np.allclose(after[name], before[name]), name  # the statistics matter
        np.testing.assert_allclose(after[name], want[name], rtol=1e-5,
                                   atol=1e-7 * np.abs(want[name]).max(), err_msg=name)
    np.testing.assert_array_equal(_sanity(model)[1], _sanity(fresh)[1])  # the compiled predict
    # a new ParameterSaliency shares the cached copy, and sees the new statistics too
    np.testing.assert_allclose(_pss(ParameterSaliency(model, include_dense=True)), want["pss"],
                               rtol=1e-5)


def test_a_layer_frozen_after_the_copy_was_made():
    """The copy's variables are linked one by one to the user's: freezing a layer reorders the
    model's trainable variables, and the copy still runs on the right values."""
    model = _model(DATA_A)
    copy = copies.get_copy(model)  # made while every layer is trainable
    model.get_layer("hidden").trainable = False
    got = _engine(model)  # compiled now, on the reordered variables
    assert copies.get_copy(model) is copy
    fresh = _model(DATA_A, weights_of=model)
    np.testing.assert_allclose(got, _engine(fresh), rtol=1e-6)
    np.testing.assert_allclose(_pattern(model), _pattern(fresh), rtol=1e-9)


def test_release_frees_the_copies_of_every_consumer():
    model, other = _model(DATA_A), _model(DATA_A)
    psal = ParameterSaliency(model, include_dense=True)
    _engine(model), _pattern(model), _pss(psal), _sanity(model)
    _engine(other)
    assert _kinds(model) == CONSUMERS
    vis.release(model)
    assert copies.copies_of(model) == []
    assert copies.copies_of(other)  # only `model`'s copies went
    assert vis.pattern.release is vis.release is copies.release
    # the released copies are rebuilt on demand; the ParameterSaliency keeps its own
    _engine(model), _pattern(model), _pss(psal), _sanity(model)
    assert _kinds(model) == CONSUMERS - {pss_copy._TransformedCopy}
    vis.release()
    assert copies.copies_of(model) == [] and copies.copies_of(other) == []


def test_the_cache_does_not_keep_the_model_alive():
    model = _model(DATA_A)
    psal = ParameterSaliency(model, include_dense=True)
    _engine(model), _pattern(model), _pss(psal), _sanity(model)
    assert _kinds(model) == CONSUMERS
    ref = weakref.ref(model)
    del model, psal
    gc.collect()
    assert ref() is None


def test_the_cache_stays_bounded_least_recently_used_out():
    model = _model(DATA_A)
    limit = copies.MAX_COPIES_PER_MODEL
    for i in range(2 * limit):  # many distinct keys
        copies.cached(model, ("test", i), object)
        assert len(copies.copies_of(model)) <= limit
    _engine(model)
    vis.explain(model, X, "guided_backprop", targets=0)
    for estimator in ("linear", "two_component"):
        fit_patterns(model, X, estimator, verbose=False)
    _pss(ParameterSaliency(model, include_dense=True))
    _pss(ParameterSaliency(model, include_dense=True, layers=["hidden"]))  # another key
    _sanity(model)
    cached = copies.copies_of(model)
    assert len(cached) == limit
    assert [type(c) for c in cached[:1]] == [object]  # the newest test key is still there
    assert _kinds(model) == CONSUMERS | {object}
    hit = copies.cached(model, ("test", 2 * limit - 1), lambda: pytest.fail("rebuilt"))
    assert copies.copies_of(model)[-1] is hit  # a hit moves to the most recent end


def _state(model):
    return copies.weights_digest(model), {
        path: (layer.__dict__.get("call"), type(layer).call, getattr(layer, "activation", None))
        for path, layer in iter_layers(model)
    }


def _assert_untouched(model, before, what):
    digest, attributes = _state(model)
    assert digest == before[0], f"{what}: the weights changed"
    assert attributes.keys() == before[1].keys(), what
    for path, values in attributes.items():
        assert all(a is b for a, b in zip(values, before[1][path])), f"{what}: {path!r}"


def _failing_explainer():
    calls = []

    def explain(m, xb, yb):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return xb

    return explain


def _quietly(fn, *args, **kwargs):
    with np.errstate(all="ignore"):  # the overflow itself is not what is tested
        return fn(*args, **kwargs)


def test_the_user_model_is_untouched_by_every_consumer_also_when_it_raises():
    model = _model(DATA_A)
    before = _state(model)
    assert before[1]["norm"][0] is None  # no instance `call`: the class's own
    huge = X.copy()
    huge[3, 1] = 1e30  # finite, but its products overflow
    psal = ParameterSaliency(model, include_dense=True)
    runs = {
        "engine": lambda: vis.explain(model, X, "guided_backprop", targets=0),
        "pattern": lambda: _pattern(model),
        "pss": lambda: _pss(psal),
        "sanity": lambda: _sanity(model),
    }
    failures = {
        # after the compiled call: no gradient path from `hidden` to the output of `logits`
        "engine": (ValueError, "no gradient path", lambda: engine.gradients(
            model, [(ActivationMaximization("hidden", 0), 1.0)], X, wrt_tensor="logits")),
        # after the streaming pass: the statistics overflowed
        "pattern": (ValueError, "statistics .* not finite", lambda: _quietly(
            fit_patterns, model, huge, "linear", verbose=False)),
        # after the per-sample gradients: one sample has no standard deviation
        "pss": (ValueError, "at least 2", lambda: psal.fit(X[:1], Y[:1], verbose=False)),
        # in the middle of the randomization steps (the user's error names `method`)
        "sanity": (ValueError, "`method` .*RuntimeError: boom", lambda: model_randomization_test(
            model, X, Y, _failing_explainer(), metrics=("spearman",), verbose=False)),
    }
    for name, run in runs.items():
        run()
        _assert_untouched(model, before, name)
        error, match, fail = failures[name]
        with pytest.raises(error, match=match):
            fail()
        _assert_untouched(model, before, f"{name} (raised)")
    assert _kinds(model) == CONSUMERS
    # the sanity workspace was freed by the failure: the next test reuses it
    workspace = [c for c in copies.copies_of(model) if isinstance(c, sanity._Workspace)][0]
    assert not workspace.busy
    _sanity(model)
    assert [c for c in copies.copies_of(model) if isinstance(c, sanity._Workspace)] == [workspace]
    _assert_untouched(model, before, "after all")


def test_engine_predict_is_compiled_once_and_follows_the_weights():
    """The compiled forward the sanity checks use (`vis.engine.predict`)."""
    model = _model(DATA_A)
    np.testing.assert_allclose(engine.predict(model, X, batch_size=5), model(X), rtol=1e-6)
    fn = copies.get_copy(model).functions[("predict",)]
    traces = fn.experimental_get_tracing_count()
    model.get_layer("logits").set_weights([w * 2 for w in model.get_layer("logits").get_weights()])
    np.testing.assert_allclose(engine.predict(model, X[:7], batch_size=3), model(X[:7]),
                               rtol=1e-6)
    assert fn.experimental_get_tracing_count() == traces
    with pytest.raises(ValueError, match="batch_size"):
        engine.predict(model, X, batch_size=0)


def test_a_re_entrant_sanity_check_works_on_a_fresh_copy():
    """While a test holds the cached working copy (randomized), a nested test on the same model
    gets a fresh copy with the user's weights, and leaves the outer test's copy alone."""
    model = _model(DATA_A)

    def run(method):
        return model_randomization_test(model, X, Y, method, metrics=("spearman",),
                                        verbose=False)

    def explainer(reenter):
        calls = []

        def explain(m, xb, yb):
            calls.append(1)
            if reenter and len(calls) == 2:  # after the first randomization step
                inner.append(run("gradient"))
            loss = ActivationMaximization(-1, per_sample(yb))
            return engine.gradients(m, [(loss, 1.0)], xb)[1]

        return explain

    inner = []
    outer = run(explainer(reenter=True))
    alone = run(explainer(reenter=False))
    plain = run("gradient")
    assert len(inner) == 1
    for name in outer.maps:
        np.testing.assert_array_equal(outer.maps[name], alone.maps[name], err_msg=name)
        np.testing.assert_array_equal(inner[0].maps[name], plain.maps[name], err_msg=name)
    workspaces = [c for c in copies.copies_of(model) if isinstance(c, sanity._Workspace)]
    assert len(workspaces) == 1 and not workspaces[0].busy
