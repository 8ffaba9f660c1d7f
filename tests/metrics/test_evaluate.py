"""`vis.evaluate` and `Report`, and the metric registry."""

import json

import numpy as np
import pytest
from helpers_models import dense_linear

import vis
import vis.metrics
from vis._evaluate import default_methods, default_metrics
from vis.copies import weights_digest


def test_integrated_gradients_beats_random_on_the_digits_cnn(digits_cnn):
    model, _, (x_test, y_test) = digits_cnn
    x, y = x_test[:16], y_test[:16]
    digest = weights_digest(model)
    report = vis.evaluate(model, x, y, methods=["integrated_gradients", "random"],
                          metrics=["deletion", "insertion", {"name": "pixel_flipping",
                                                             "region": 2}], steps=16)
    assert weights_digest(model) == digest
    scores = report.scores
    ig, rnd = scores["integrated_gradients"], scores["random"]
    assert ig["deletion"] < rnd["deletion"] - 0.1       # lower is better
    assert ig["insertion"] > rnd["insertion"] + 0.1     # higher is better
    assert ig["pixel_flipping"] > rnd["pixel_flipping"]
    assert report.ranking("deletion") == ["integrated_gradients", "random"]
    assert report.ranking("insertion") == ["integrated_gradients", "random"]
    assert report.control == "random"
    curve = report.curves["integrated_gradients"]["deletion"]
    assert curve.scores.shape == (16, 101)
    np.testing.assert_allclose(report.values["integrated_gradients"]["deletion"], curve.auc)
    # the report's numbers are the metric functions' numbers
    direct = vis.metrics.deletion(model, x, vis.metrics.bind_method("ig", steps=16), y)
    np.testing.assert_allclose(direct.auc, curve.auc)


def test_report_markdown_plot_dict_and_progress(digits_cnn):
    model, _, (x_test, y_test) = digits_cnn
    x, y = x_test[:6], y_test[:6]
    seen = []
    report = vis.evaluate(
        model, x, y, methods=["gradient", "gradcam", "random"],
        metrics=[{"name": "deletion", "steps": 8}, {"name": "insertion", "steps": 8},
                 "sparseness", "complexity", {"name": "max_sensitivity", "samples": 3}],
        progress=lambda what, done, total: seen.append((what, done, total)))
    assert [d for _, d, _ in seen] == list(range(1, 19)) and seen[-1][2] == 18
    md = report.to_markdown()
    lines = md.splitlines()
    assert lines[0] == ("| method | deletion ↓ | insertion ↑ | sparseness ↑ | complexity ↓ | "
                        "max_sensitivity ↓ |")
    assert lines[2].startswith("| gradient | ") and lines[4].startswith("| random (control) | ")
    assert md.count("**") == 2 * 5  # one best value per column
    best = report.ranking("sparseness")[0]
    assert f"**{report.scores[best]['sparseness']:.3g}**" in md
    assert len(report.values["gradcam"]["sparseness"]) == 6
    fig = report.plot()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["deletion ↓", "insertion ↑"] and "rank per metric" in titles[2]
    assert len(fig.axes) == 3
    lines = fig.axes[0].get_lines()
    assert [ln.get_linestyle() for ln in lines][-1] == "--"  # the control's reference line
    json.dumps(report.to_dict())
    ranks = report.ranks()
    assert sorted(ranks[m]["deletion"] for m in report.methods) == [1, 2, 3]
    with pytest.raises(ValueError, match="was not evaluated"):
        report.ranking("infidelity")


def test_a_method_that_cannot_explain_the_model_is_reported_as_na():
    model, _, _ = dense_linear(n_in=12, n_out=3, softmax=True, seed=1)
    x = np.random.default_rng(1).random((4, 12)).astype("float32")
    report = vis.evaluate(model, x, 0, methods=["gradient", "gradcam", "random"],
                          metrics=["sparseness", {"name": "deletion", "steps": 4}])
    assert "gradcam" in report.errors and "gradcam" not in report.values
    assert report.scores["gradcam"] == {"sparseness": None, "deletion": None}
    assert report.ranking("deletion") in (["gradient", "random"], ["random", "gradient"])
    md = report.to_markdown()
    assert "| gradcam | n/a | n/a |" in md and "n/a — gradcam: " in md
    report.plot()  # n/a cells are grey, not an error


def test_evaluate_options_fitting_and_masks(digits_cnn):
    model, (x_train, _), (x_test, y_test) = digits_cnn
    x, y = x_test[:4], y_test[:4]
    masks = x > 0.3
    report = vis.evaluate(
        model, x, y, methods=["patternnet", "smoothgrad", "integrated_gradients"],
        metrics=["pointing_game", "relevance_mass"], masks=masks, fit_inputs=x_train[:100],
        method_options={"ig": {"steps": 8}}, samples=4)
    assert not report.errors
    for m in report.methods:
        assert set(report.values[m]) == {"pointing_game", "relevance_mass"}
    # the per-method options reached the method: IG with 8 steps
    ig = vis.explain(model, x, "integrated_gradients", y, steps=8)
    want = vis.metrics.relevance_mass(ig.sum(axis=-1), masks[..., 0])
    np.testing.assert_allclose(report.values["integrated_gradients"]["relevance_mass"], want)
    # `seed` reaches the methods that take one
    sg = vis.explain(model, x, "smoothgrad", y, samples=4, seed=5)
    again = vis.evaluate(model, x, y, methods=["smoothgrad"], metrics=["relevance_mass"],
                         masks=masks[..., 0], seed=5, samples=4)
    np.testing.assert_allclose(again.values["smoothgrad"]["relevance_mass"],
                               vis.metrics.relevance_mass(sg.sum(axis=-1), masks[..., 0]))


def test_evaluate_errors():
    model, _, _ = dense_linear(n_in=6, n_out=3, seed=2)
    x = np.random.default_rng(2).random((3, 6)).astype("float32")
    with pytest.raises(ValueError, match="need ground-truth `masks`"):
        vis.evaluate(model, x, 0, methods=["gradient"], metrics=["pointing_game"])
    with pytest.raises(ValueError, match="`masks` has shape"):
        vis.evaluate(model, x, 0, methods=["gradient"], metrics=["pointing_game"],
                     masks=np.ones((3, 5), dtype=bool))
    with pytest.raises(ValueError, match="names 'gradient' twice"):
        vis.evaluate(model, x, 0, methods=["gradient", "saliency"], metrics=["sparseness"])
    with pytest.raises(ValueError, match=r"names \['sparseness'\] more than once"):
        vis.evaluate(model, x, 0, methods=["gradient"], metrics=["sparseness", "gini"])
    with pytest.raises(TypeError, match="No evaluated method takes the option `steps`"):
        vis.evaluate(model, x, 0, methods=["gradient"], metrics=["sparseness"], steps=4)
    with pytest.raises(ValueError, match="Could not interpret metric 'faithfulness'"):
        vis.evaluate(model, x, 0, methods=["gradient"], metrics=["faithfulness"])
    with pytest.raises(ValueError, match="which is not evaluated"):
        vis.evaluate(model, x, 0, methods=["gradient"], metrics=["sparseness"],
                     method_options={"random": {"seed": 1}})
    with pytest.raises(TypeError, match="does not take the option"):
        vis.evaluate(model, x, 0, methods=["gradient"], metrics=[{"name": "deletion", "x": 1}])


def test_metric_registry():
    names = vis.metrics.names()
    for name in ("deletion", "insertion", "pixel_flipping", "faithfulness_correlation",
                 "infidelity", "max_sensitivity", "avg_sensitivity", "sparseness", "complexity",
                 "pointing_game", "relevance_mass", "model_randomization"):
        assert name in names
    assert set(default_metrics()) < set(names)
    assert default_methods()[-1] == "random" and "integrated_gradients" in default_methods()
    assert "patternnet" in default_methods()
    m = vis.metrics.get({"name": "deletion", "steps": 10})
    assert m.options == {"steps": 10} and vis.metrics.get("deletion").options == {}
    assert vis.metrics.get("gini").name == "sparseness"
    rows = vis.metrics.table()
    assert {r["family"] for r in rows} == {"faithfulness", "robustness", "complexity",
                                          "localization", "randomization"}
    assert all("http" in r["paper"] for r in rows)

    def peak(maps):
        """The largest absolute value."""
        return np.abs(maps).reshape(len(maps), -1).max(axis=1)

    saved = vis.metrics.REGISTRY.snapshot()
    try:
        vis.metrics.register("peak", peak, needs="maps", higher_is_better=False)
        model, _, _ = dense_linear(n_in=6, n_out=3, seed=2)
        x = np.random.default_rng(2).random((3, 6)).astype("float32")
        report = vis.evaluate(model, x, 0, methods=["gradient"], metrics=["peak"])
        np.testing.assert_allclose(report.values["gradient"]["peak"],
                                   np.abs(vis.explain(model, x, "gradient", 0)).max(axis=1))
        assert report.higher_is_better["peak"] is False
        assert vis.metrics.get("peak").description == "The largest absolute value."
    finally:
        vis.metrics.REGISTRY.restore(saved)
    assert "peak" not in vis.metrics.names()
    with pytest.raises(ValueError, match="`needs` must be one of"):
        vis.metrics.Metric("bad", peak, needs="nothing")


@pytest.mark.slow
def test_every_default_method_and_metric_on_the_digits_cnn(digits_cnn):
    model, (x_train, _), (x_test, y_test) = digits_cnn
    x, y = x_test[:8], y_test[:8]
    digest = weights_digest(model)
    report = vis.evaluate(model, x, y, fit_inputs=x_train[:200])
    assert weights_digest(model) == digest
    assert report.methods == default_methods() and report.metrics == default_metrics()
    assert not report.errors
    scores = report.scores
    assert all(v is not None and np.isfinite(v) for row in scores.values() for v in row.values())
    ig, rnd = scores["integrated_gradients"], scores["random"]
    assert ig["deletion"] < rnd["deletion"] and ig["insertion"] > rnd["insertion"]
    assert ig["faithfulness_correlation"] > rnd["faithfulness_correlation"]
    assert ig["max_sensitivity"] < rnd["max_sensitivity"]
    # the control does not depend on the weights: identical maps after randomization
    np.testing.assert_allclose(report.values["random"]["model_randomization"], 1.0)
    assert scores["gradient"]["model_randomization"] < 0.5
    # the gradient of a ReLU network is locally exact: far lower infidelity than noise
    assert scores["gradient"]["infidelity"] < rnd["infidelity"]
