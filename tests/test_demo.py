"""vis.demo helpers: method maps against independent references, the grid figure's content."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def batch(digits_cnn):
    from vis.demo import pick_examples

    model, _, (x_test, y_test) = digits_cnn
    idx = pick_examples(model, x_test, y_test, 3)
    return model, x_test[idx], y_test[idx]


def logit_gradient(model, x, y):
    """d logit_y / d x with a hand-written tape on the pre-softmax logits."""
    import keras
    import tensorflow as tf

    features = keras.Model(model.input, model.get_layer("dense").output)
    kernel, bias = model.get_layer("predictions").get_weights()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        logits = tf.matmul(features(xt), kernel) + bias
        score = tf.reduce_sum(tf.gather(logits, y, batch_dims=1))
    return tape.gradient(score, xt).numpy()


def test_pick_examples_distinct_correct_classes(digits_cnn):
    from vis.demo import pick_examples

    model, _, (x_test, y_test) = digits_cnn
    idx = pick_examples(model, x_test, y_test, 5)
    pred = model.predict(x_test[idx], verbose=0).argmax(-1)
    assert len(idx) == 5 and len(set(y_test[idx])) == 5
    np.testing.assert_array_equal(pred, y_test[idx])


def test_method_maps_match_references(batch):
    """Signed methods (the registry's `signed`) scaled by their largest magnitude; Grad-CAM
    (unsigned) min-max scaled."""
    from vis.demo import method_maps

    model, x, y = batch
    maps = method_maps(model, x, y, methods=("gradient", "gradient_x_input", "gradcam"))
    assert list(maps) == ["gradient", "gradient_x_input", "gradcam"]
    g = logit_gradient(model, x, y)[..., 0]
    np.testing.assert_allclose(maps["gradient"], g / np.abs(g).max(axis=(1, 2), keepdims=True),
                               atol=1e-5)
    gxi = g * x[..., 0]
    np.testing.assert_allclose(maps["gradient_x_input"],
                               gxi / np.abs(gxi).max(axis=(1, 2), keepdims=True), atol=1e-5)
    cam = maps["gradcam"]
    assert cam.shape == (3, 8, 8)
    assert np.all(cam.min(axis=(1, 2)) == 0.0) and np.allclose(cam.max(axis=(1, 2)), 1.0)


def test_method_maps_rejects_unknown_method(batch):
    from vis.demo import method_maps

    model, x, y = batch
    with pytest.raises(ValueError, match="unknown \\['magic'\\]"):
        method_maps(model, x, y, methods=("gradient", "magic"))


def test_plot_method_grid_shows_the_maps(batch):
    import matplotlib

    matplotlib.use("Agg")
    from vis.demo import plot_method_grid

    _, x, y = batch
    rng = np.random.default_rng(0)
    maps = {"gradcam": rng.random((3, 8, 8)), "lrp": rng.uniform(-1, 1, (3, 8, 8))}
    fig = plot_method_grid(x, maps, [f"y={k}" for k in y], title="t")
    axes = np.array(fig.axes).reshape(3, 3)
    # titles from the registry: the canonical name of an alias ("lrp" is "lrp_epsilon")
    assert [ax.get_title() for ax in axes[0]] == ["input", "gradcam", "lrp epsilon"]
    for i in range(3):
        np.testing.assert_array_equal(axes[i, 0].images[0].get_array(), x[i, ..., 0])
        np.testing.assert_array_equal(axes[i, 1].images[0].get_array(), maps["gradcam"][i])
        np.testing.assert_array_equal(axes[i, 2].images[0].get_array(), maps["lrp"][i])
        assert axes[i, 0].get_ylabel() == f"y={y[i]}"
    assert axes[0, 2].images[0].get_cmap().name == "bwr"       # signed: diverging, symmetric
    assert axes[0, 2].images[0].get_clim() == (-1, 1)
    assert axes[0, 1].images[0].get_cmap().name == "inferno"   # unsigned (Grad-CAM): [0, 1]
    assert axes[0, 1].images[0].get_clim() == (0, 1)
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_plot_method_grid_title_clears_the_column_titles(batch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vis.demo import METHODS, plot_method_grid

    _, x, y = batch
    rng = np.random.default_rng(0)
    maps = {m: rng.random((3, 8, 8)) for m in METHODS}
    fig = plot_method_grid(x, maps, [f"y={k}" for k in y], title="Explanations of the true class")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes:
        for text in (ax.title, ax.yaxis.label):
            if text.get_text():
                box = text.get_window_extent(renderer)
                assert not title.overlaps(box), (text.get_text(), title, box)
    column_titles = [ax.title.get_window_extent(renderer) for ax in fig.axes[:len(METHODS) + 1]]
    for a, b in zip(column_titles, column_titles[1:]):
        assert not a.overlaps(b)
    plt.close(fig)


def test_method_maps_iterate_the_registry(batch, digits_cnn):
    """METHODS is the registry (a method registered later included); methods that learn from
    data are fitted with their `fit` on `fit_data`."""
    import vis
    import vis.methods
    from vis import demo

    model, x, y = batch
    _, (x_train, _), _ = digits_cnn
    assert list(demo.METHODS) == [row["name"] for row in vis.methods.table()]

    def doubled(model, inputs, targets, **options):
        """Twice the input minus one (a test method)."""
        return 2.0 * np.asarray(inputs) - 1.0

    vis.methods.register("doubled_test", doubled)
    try:
        assert "doubled_test" in demo.METHODS
        maps = demo.method_maps(model, x, y, methods=("doubled_test", "pattern_net"),
                                fit_data=x_train[:200])
    finally:
        vis.methods.unregister("doubled_test")
    assert "doubled_test" not in demo.METHODS
    m = 2.0 * x[..., 0] - 1.0
    np.testing.assert_allclose(maps["doubled_test"], m / np.abs(m).max(axis=(1, 2), keepdims=True),
                               atol=1e-6)
    patterns = vis.methods.get("patternnet").fit(model, x_train[:200])["patterns"]
    signal = vis.explain(model, x, "patternnet", y, patterns=patterns)[..., 0]
    np.testing.assert_allclose(maps["pattern_net"],
                               signal / np.abs(signal).max(axis=(1, 2), keepdims=True), atol=1e-5)


def test_pss_section_without_misclassified_digits(digits_cnn, tmp_path):
    """Every prediction right: the least confident digit is shown and called what it is."""
    from vis.demo import _pss_section, _pss_summary

    model, (x_train, y_train), (x_test, y_test) = digits_cnn
    x_test, y_test = x_test[:40], y_test[:40]
    probs = np.full((40, 10), 0.01)
    probs[np.arange(40), y_test] = np.linspace(0.99, 0.5, 40)  # all correct, #39 least confident
    files = []
    cfg = {"pss_fit": 64, "draws": 2}
    p = _pss_section(model, x_train, y_train, x_test, y_test, probs, cfg, 0, str(tmp_path), files)
    assert p["n_misclassified"] == 0 and p["index"] == 39 and p["n_studied"] == 0
    assert p["p_top"] is None and files == ["pss_profile.png", "pss_input.png"]
    text = "\n".join(_pss_summary(p))
    assert "No test digit is misclassified" in text and "least confident" in text
    assert "predicted" not in text and "Switch-off experiment: skipped" in text
    assert "misclassified digit" not in text.split("\n")[0]


def test_pss_summary_with_misclassified_digits():
    from vis.demo import _pss_summary

    p = {"index": 7, "label": 3, "predicted": 5, "p_true": 0.1, "p_pred": 0.8,
         "n_misclassified": 4, "mean_profile_wrong": 1.5, "mean_profile_right": -0.1,
         "mean_profile_digit": 2.0, "top_filters": ["conv1:3"], "k": 10, "n_studied": 4,
         "n_random": 2, "p_before": 0.1, "p_top": 0.4, "p_random": 0.15, "fixed_top": 0.5,
         "fixed_random": 0.0}
    text = "\n".join(_pss_summary(p))
    assert "label 3, predicted 5" in text and "Switch-off experiment on the 4 misclassified" in text
    assert "0.100 to **0.400** and corrects 50%" in text


def _deletion_scores(markdown):
    """`{method: deletion}` read from the Markdown table of an evaluation (its first column)."""
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    column = header.index("deletion ↓")
    scores = {}
    for line in lines[1:]:
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        scores[cells[0].replace(" (control)", "")] = float(cells[column])
    return scores


def test_evaluation_section_every_default_method_against_random(digits_cnn, tmp_path):
    """The demo's evaluation: every default method and the control, the figure, the summary
    section; Integrated Gradients is far more faithful than random noise on deletion."""
    import vis
    from vis._evaluate import default_methods
    from vis.demo import (
        FAST_METRIC_OPTIONS,
        _evaluation_section,
        _evaluation_summary,
        evaluation_metrics,
    )

    fast = evaluation_metrics(fast=True)
    assert [m["name"] for m in fast] == vis._evaluate.default_metrics()
    assert fast[0] == {"name": "deletion", **FAST_METRIC_OPTIONS["deletion"]}
    assert evaluation_metrics()[0] == {"name": "deletion"}
    model, (x_train, _), (x_test, y_test) = digits_cnn
    fitted = vis.methods.get("patternnet").fit(model, x_train[:200])
    # the demo's metrics, less the slow ones (this test is about the methods and deletion)
    cfg = {"eval_n": 16, "eval_metrics": [fast[0], {"name": "sparseness"}], "steps": 16,
           "samples": 8}
    files = []
    e = _evaluation_section(model, x_train, x_test, y_test, cfg, 0, str(tmp_path), files,
                            fitted)
    assert files == ["evaluation.png"] and (tmp_path / "evaluation.png").stat().st_size > 0
    assert e["methods"] == default_methods() and e["control"] == "random" and e["n"] == 16
    assert e["options"] == {"steps": 16, "samples": 8}
    text = "\n".join(_evaluation_summary(e))
    assert text.startswith("## Evaluation") and "![evaluation](evaluation.png)" in text
    assert e["markdown"].rstrip() in text
    deletion = _deletion_scores(text)
    assert set(deletion) == set(default_methods())
    assert deletion["integrated_gradients"] < 0.5 * deletion["random"], deletion
    assert e["deletion_ranking"].index("integrated_gradients") < \
        e["deletion_ranking"].index("random")
