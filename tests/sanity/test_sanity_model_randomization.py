"""Model parameter randomization test on the trained digits CNN (Adebayo et al. 2018)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_weights_equal, weights_of

from vis import copies
from vis.sanity import (
    Result,
    metrics,
    model_randomization_test,
    plot_comparison,
    reinitialize_layer,
)
from vis.sanity import randomization as randomization_module
from vis.utils.model import copy_model
from vis.visualization import engine

STEPS = ["predictions", "dense", "conv2", "conv1"]


@pytest.fixture(scope="module")
def data(digits_cnn):
    model, _, (xte, yte) = digits_cnn
    return model, xte[:32], yte[:32]


def _reference_gradient(model, x, y, randomized, seed=0):
    """d logit_y / d x on an independent copy with `randomized` layers re-drawn (plain tape)."""
    ref = copy_model(model)
    for path in randomized:
        layer = ref.get_layer(path)
        layer.set_weights(reinitialize_layer(layer, seed, path))
    hidden = keras.Model(ref.inputs, ref.get_layer("dense").output)
    kernel, bias = ref.get_layer("predictions").weights
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        logits = hidden(xt) @ kernel + bias
        score = tf.reduce_sum(tf.gather(logits, y, batch_dims=1))
    return tape.gradient(score, xt).numpy(), logits.numpy()


def test_paper_central_finding_gradient_vs_guided_backprop(data):
    model, x, y = data
    grad = model_randomization_test(model, x, y, "gradient", verbose=False)
    guided = model_randomization_test(model, x, y, "guided_backprop", verbose=False)
    assert grad.steps == STEPS
    g = grad.scores["spearman"].mean(axis=1)
    b = guided.scores["spearman"].mean(axis=1)
    # The gradient decorrelates as soon as the logits are random ...
    assert np.all(np.abs(g) < 0.2), g
    # ... while guided backprop stays similar through the top layers (observed ~0.85).
    assert np.all(b[:2] > 0.6), b
    assert np.all(b - g > 0.3), (b, g)
    assert guided.scores["ssim"].mean(axis=1)[0] > grad.scores["ssim"].mean(axis=1)[0] + 0.4


def test_maps_equal_an_independent_randomized_copy(data):
    """The cached engine function re-syncs the working copy: each step's maps are the gradient
    of the randomized model, computed here from scratch with a plain GradientTape."""
    model, x, y = data
    result = model_randomization_test(model, x, y, "gradient", metrics=("spearman",),
                                      verbose=False, seed=3)
    for k, step in enumerate([None, *STEPS]):
        randomized = STEPS[:k]
        want, _ = _reference_gradient(model, x, y, randomized, seed=3)
        got = result.maps["original" if step is None else step]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    for step in STEPS:
        assert not np.allclose(result.maps[step], result.maps["original"])


def test_independent_mode_restores_previous_layers(data):
    model, x, y = data
    seen = []

    def spy(m, xb, yb):
        seen.append({n: m.get_layer(n).get_weights()[0].copy() for n in STEPS})
        return xb

    model_randomization_test(model, x, y, spy, mode="independent", metrics=("spearman",),
                             verbose=False)
    trained = {n: model.get_layer(n).get_weights()[0] for n in STEPS}
    for step_weights in seen[:1]:
        for n in STEPS:
            np.testing.assert_array_equal(step_weights[n], trained[n])
    for k, step in enumerate(STEPS, start=1):
        drawn = reinitialize_layer(model.get_layer(step), 0, step)[0]
        for n in STEPS:
            want = drawn if n == step else trained[n]
            np.testing.assert_array_equal(seen[k][n], want)

    seen.clear()
    model_randomization_test(model, x, y, spy, mode="cascading", metrics=("spearman",),
                             verbose=False)
    for k in range(1, 5):
        for n in STEPS:
            if n in STEPS[:k]:
                np.testing.assert_array_equal(seen[k][n],
                                              reinitialize_layer(model.get_layer(n), 0, n)[0])
            else:
                np.testing.assert_array_equal(seen[k][n], trained[n])


def test_identity_explainer_stays_at_one(data):
    model, x, y = data
    result = model_randomization_test(model, x, y, lambda m, xb, yb: xb, verbose=True)
    for name, values in result.scores.items():
        assert values.shape == (4, 32)
        np.testing.assert_allclose(values, 1.0, atol=1e-12, err_msg=name)


def test_reproducible_and_seed_dependent(data):
    model, x, y = data
    a = model_randomization_test(model, x, y, "gradient", verbose=False, seed=5)
    b = model_randomization_test(model, x, y, "gradient", verbose=False, seed=5)
    c = model_randomization_test(model, x, y, "gradient", verbose=False, seed=6)
    for metric in a.scores:
        np.testing.assert_array_equal(a.scores[metric], b.scores[metric])
    for k, step in enumerate(STEPS):
        np.testing.assert_array_equal(a.maps[step], b.maps[step])
        assert not np.allclose(a.maps[step], c.maps[step])
        for name, values in a.scores.items():  # cached original features == direct metric call
            direct = metrics.get(name)(a.maps["original"], a.maps[step], channel_axis=-1)
            np.testing.assert_allclose(values[k], direct, atol=1e-12, err_msg=name)


def test_target_predicted_and_accuracy(data):
    model, x, y = data
    result = model_randomization_test(model, x, y, "gradient", target="predicted",
                                      metrics=("spearman",), verbose=False)
    logits = model.predict(x, verbose=0)
    np.testing.assert_array_equal(result.targets["original"], logits.argmax(-1))
    assert result.accuracy["original"] == pytest.approx(np.mean(logits.argmax(-1) == y))
    for k, step in enumerate(STEPS, start=1):
        want_maps, want_logits = _reference_gradient(model, x, result.targets[step], STEPS[:k])
        np.testing.assert_array_equal(result.targets[step], want_logits.argmax(-1))
        assert result.accuracy[step] == pytest.approx(np.mean(want_logits.argmax(-1) == y))
        np.testing.assert_allclose(result.maps[step], want_maps, rtol=1e-4,
                                   atol=1e-5 * np.abs(want_maps).max())
    assert result.accuracy["predictions"] < 0.5  # random logits: near chance
    unlabeled = model_randomization_test(model, x, None, "gradient", target="predicted",
                                         metrics=("spearman",), verbose=False)
    assert unlabeled.accuracy["original"] is None
    np.testing.assert_array_equal(unlabeled.scores["spearman"], result.scores["spearman"])


def test_constant_maps_give_finite_scores(data):
    model, x, y = data
    zeros = model_randomization_test(model, x, y, lambda m, xb, yb: np.zeros(xb.shape),
                                     verbose=False)
    for name, values in zeros.scores.items():
        np.testing.assert_array_equal(values, 1.0, err_msg=name)  # two constant maps
    cam = model_randomization_test(model, x, y, "gradcam", verbose=False)
    assert cam.maps["original"].shape == (32, 8, 8)
    assert any(np.all(m == 0, axis=(1, 2)).any() for m in cam.maps.values())  # some zero CAMs
    for name, values in cam.scores.items():
        assert np.all(np.isfinite(values)), name


def test_user_model_never_changes_even_when_the_method_raises(data):
    model, x, y = data
    before, out_before = weights_of(model), model.predict(x, verbose=0)
    reference = model_randomization_test(model, x, y, "gradient", verbose=False)
    calls = []

    def failing(m, xb, yb):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return xb

    # the user's exception comes back naming the parameter (and chained: its traceback is kept)
    with pytest.raises(ValueError, match="`method` .*raised RuntimeError: boom") as info:
        model_randomization_test(model, x, y, failing, verbose=False)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert_weights_equal(model, before)
    np.testing.assert_array_equal(model.predict(x, verbose=0), out_before)
    again = model_randomization_test(model, x, y, "gradient", verbose=False)
    for metric in reference.scores:  # the cached working copy was reset
        np.testing.assert_array_equal(again.scores[metric], reference.scores[metric])
    assert_weights_equal(model, before)


def test_gradient_function_compiled_once_across_steps(data):
    model, x, y = data
    model_randomization_test(model, x, y, "gradient", verbose=False, metrics=("spearman",))
    workspaces = [c for c in copies.copies_of(model)
                  if isinstance(c, randomization_module._Workspace)]
    assert len(workspaces) == 1  # one cached working copy per model, in the shared cache
    work = workspaces[0].model
    functions = engine.get_copy(work, None).functions
    wrt_input = [f for key, f in functions.items()
                 if key[0] == "gradients" and key[2] is None]  # (Grad-CAM: wrt conv2)
    assert len(wrt_input) == 1
    fn = wrt_input[0]
    traces = fn.experimental_get_tracing_count()
    model_randomization_test(model, x[:7], y[:7], "gradient", verbose=False, mode="independent",
                             metrics=("spearman",))
    assert fn.experimental_get_tracing_count() == traces


def test_custom_reinitialize_and_blocks(data):
    model, x, y = data
    zero = model_randomization_test(
        model, x, y, "gradient", layers=["predictions", ["dense", "conv2"]],
        reinitialize=lambda layer: [np.zeros_like(w) for w in layer.get_weights()],
        metrics=("spearman",), verbose=False,
    )
    assert zero.steps == ["predictions", "dense+conv2"]
    np.testing.assert_array_equal(zero.maps["predictions"], 0.0)  # zero logits: no gradient
    np.testing.assert_array_equal(zero.scores["spearman"], 0.0)
    with pytest.raises(ValueError, match="shapes"):
        model_randomization_test(model, x, y, "gradient", verbose=False,
                                 reinitialize=lambda layer: [np.zeros(3)])


def test_summary_and_plot(data):
    model, x, y = data
    result = model_randomization_test(model, x, y, "guided_backprop", verbose=False)
    assert isinstance(result, Result)
    text = result.summary()
    for token in ["guided_backprop", "cascading", *STEPS, "accuracy", "spearman_abs", "±"]:
        assert token in text
    mean, std = result.table()["dense"]["ssim"]
    assert f"{mean:.3f} ± {std:.3f}" in text
    curves, grid = result.plot(n_images=3)
    (ax,) = curves.axes
    assert len(ax.lines) == 4 + 1  # one curve per metric, plus the zero line
    np.testing.assert_allclose(ax.lines[0].get_ydata(), result.scores["spearman_abs"].mean(1))
    assert len(grid.axes) == 3 * (len(STEPS) + 2)
    grad = model_randomization_test(model, x, y, "gradient", verbose=False)
    fig = plot_comparison({"gradient": grad, "guided backprop": result}, metric="ssim")
    lines = fig.axes[0].lines
    np.testing.assert_allclose(lines[1].get_ydata(), result.scores["ssim"].mean(1))
    with pytest.raises(ValueError, match="no metric"):
        plot_comparison({"gradient": grad}, metric="pearson")


def test_argument_errors(data):
    model, x, y = data
    with pytest.raises(ValueError, match="guided_backprop"):  # "guided" is an alias now
        model_randomization_test(model, x, y, "guided_backprop_", verbose=False)
    with pytest.raises(ValueError, match="mode"):
        model_randomization_test(model, x, y, "gradient", mode="top_down", verbose=False)
    with pytest.raises(ValueError, match="target"):
        model_randomization_test(model, x, y, "gradient", target="true", verbose=False)
    with pytest.raises(ValueError, match="`y` is None"):
        model_randomization_test(model, x, None, "gradient", verbose=False)
    with pytest.raises(ValueError, match="outside 0..9"):
        model_randomization_test(model, x, y + 10, "gradient", verbose=False)
    with pytest.raises(ValueError, match="Valid names"):
        model_randomization_test(model, x, y, "gradient", metrics=("pearson",), verbose=False)
    with pytest.raises(ValueError, match="non-finite"):
        model_randomization_test(model, x, y, lambda m, xb, yb: xb * np.nan, verbose=False)
    with pytest.raises(ValueError, match="one map per input"):
        model_randomization_test(model, x, y, lambda m, xb, yb: xb[:3], verbose=False)
