"""`vis evaluate` on a tiny saved model: the same numbers as `vis.evaluate` in process, its
files, its progress lines, and its errors (one line, status 2; file errors before TensorFlow).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from cli_testing import (
    REPO,
    assert_png,
    assert_user_error,
    build_tiny_model,
    build_two_output_model,
    vis_main,
)

from vis.cli._specs import literal, metric_specs, spec_text

METHODS = "gradient,ig,random,patternnet"
METRICS = "deletion:steps=8,baseline=blur,sparseness,max_sensitivity:samples=3"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_evaluate")
    build_tiny_model(folder / "tiny.keras")
    build_two_output_model(folder / "twoout.keras")
    rng = np.random.default_rng(0)
    np.savez(folder / "data.npz", x=rng.random((6, 8, 8, 1)).astype("float32"),
             y=np.array([0, 1, 2, 0, 1, 2]))
    np.savez(folder / "fit.npz", x=rng.random((24, 8, 8, 1)).astype("float32"))
    np.savez(folder / "badshape.npz", x=rng.random((4, 5, 5, 1)), y=np.zeros(4, int))
    (folder / "notes.txt").write_text("not a folder")
    (folder / "taken").mkdir()
    shutil.copy(folder / "data.npz", folder / "taken" / "evaluation.json")
    return folder


@pytest.fixture
def run(work, capsys, monkeypatch):
    monkeypatch.chdir(work)
    return lambda *args: vis_main(capsys, *args)


@pytest.mark.slow
def test_the_report_is_vis_evaluate_in_process(run, work):
    import keras

    import vis

    result = run("evaluate", "tiny.keras", "data.npz", "--methods", METHODS, "--metrics",
                 METRICS, "--fit-data", "fit.npz", "--n", "5", "--out", "report")
    assert result.returncode == 0, result.stderr
    model = keras.models.load_model(work / "tiny.keras")
    with np.load(work / "data.npz") as data, np.load(work / "fit.npz") as fit:
        x, y, fit_x = data["x"][:5], data["y"][:5], fit["x"]
    report = vis.evaluate(
        model, x, y, methods=["gradient", "integrated_gradients", "random", "patternnet"],
        metrics=[{"name": "deletion", "steps": 8, "baseline": "blur"}, "sparseness",
                 {"name": "max_sensitivity", "samples": 3}], fit_inputs=fit_x, seed=0)
    out = work / "report"
    markdown = (out / "evaluation.md").read_text(encoding="utf-8")
    assert markdown == report.to_markdown()
    assert "Mean over 5 input(s)" in markdown and "| random (control) |" in markdown
    assert report.to_markdown() in result.stdout  # the table is printed
    numbers = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    assert numbers["metrics"] == ["deletion", "sparseness", "max_sensitivity"]
    for method, scores in report.scores.items():
        np.testing.assert_allclose([numbers["scores"][method][k] for k in report.metrics],
                                   [scores[k] for k in report.metrics], rtol=1e-12)
    assert len(numbers["curves"]["gradient"]["deletion"]) == 9  # steps=8 reached the metric
    assert_png(out / "evaluation.png", min_size=(300, 300))
    lines = result.stderr.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "[1/4] gradient", "[2/4] integrated_gradients", "[3/4] random", "[4/4] patternnet"], lines


def test_defaults_are_those_of_vis_evaluate():
    from vis._evaluate import default_methods, default_metrics
    from vis.cli import build_parser
    from vis.cli.evaluate import chosen_methods, chosen_metrics

    args = build_parser().parse_args(["evaluate", "m.keras", "d.npz"])
    assert chosen_methods(args) == default_methods()
    assert [m["name"] for m in chosen_metrics(args)] == default_metrics()
    assert args.n == 32 and args.seed == 0 and args.out == "evaluation_out"
    assert ", ".join(default_metrics()) in " ".join(args.parser.format_help().split())
    args = build_parser().parse_args(["evaluate", "m.keras", "d.npz", "--methods", "ig,saliency",
                                      "--methods", "integrated_gradients,random", "--metrics",
                                      "gini,deletion:steps=4", "--metrics", "sparseness"])
    assert chosen_methods(args) == ["ig", "saliency", "random"]  # one spelling per method
    assert chosen_metrics(args) == [{"name": "sparseness"}, {"name": "deletion", "steps": 4}]


def test_progress_line_per_method_when_its_last_metric_is_done(capsys):
    from vis.cli.evaluate import MethodProgress

    clock = iter([0.0, 1.5, 4.0, 4.25]).__next__
    progress = MethodProgress(3, 2, clock=clock)
    for step, text in enumerate(["a: maps", "a: m1", "a: m2", "b: n/a", "c: maps", "c: m1",
                                 "c: m2"], start=1):
        progress(text, step if step < 4 else step + 2, 9)
    assert capsys.readouterr().err.splitlines() == ["[1/3] a: 1.5 s", "[2/3] b: n/a",
                                                    "[3/3] c: 0.2 s"]


def test_json_has_no_nan_or_inf():
    from vis.cli.evaluate import _finite

    value = {"a": [1.0, float("nan"), {"b": float("inf")}], "c": 2, "d": "x"}
    assert _finite(value) == {"a": [1.0, None, {"b": None}], "c": 2, "d": "x"}


# --- --metrics syntax ------------------------------------------------------------------------


@pytest.mark.parametrize("text, value", [("50", 50), ("-3", -3), ("0.5", 0.5), ("1e-3", 1e-3),
                                         ("True", True), ("false", False), ("none", None),
                                         ("blur", "blur"), ("'50'", "50"), ('"true"', "true")])
def test_literal_values(text, value):
    got = literal(text)
    assert got == value and type(got) is type(value)


def test_metric_specs():
    assert metric_specs("deletion:steps=50,baseline=blur, sparseness,insertion:score=logit") == [
        {"name": "deletion", "steps": 50, "baseline": "blur"}, {"name": "sparseness"},
        {"name": "insertion", "score": "logit"}]
    assert spec_text({"name": "pixel_flipping", "region": 2, "steps": None}) == \
        "pixel_flipping:region=2,steps=none"


@pytest.mark.parametrize("text, message", [
    ("steps=5", "the option 'steps=5' comes before any metric name"),
    ("deletion:steps", "expected KEY=VALUE after 'deletion:', got 'steps'"),
    ("deletion:", "expected KEY=VALUE after 'deletion:'"),
    ("deletion:steps=", "expected KEY=VALUE for metric 'deletion', got 'steps='"),
    ("deletion:2x=1", "expected KEY=VALUE for metric 'deletion', got '2x=1'"),
    ("deletion:steps=1,steps=2", "metric 'deletion': the option 'steps' is given twice"),
    ("deletion:name=x", "'name' is not an option"),
    (" , ", "expected metric names separated by commas"),
])
def test_metric_specs_errors(text, message):
    with pytest.raises(argparse.ArgumentTypeError) as err:
        metric_specs(text)
    assert message in str(err.value)


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, fragments", [
    (["--metrics", "magic"], ["--metrics: ", "metric 'magic'", "deletion, faithfulness"]),
    (["--metrics", "deletion:foo=1"],
     ["--metrics deletion:foo=1: metric 'deletion' does not take the option(s) ['foo']",
      "its options are ['steps', 'baseline', 'score', 'batch_size']"]),
    (["--metrics", "pointing_game"],
     ["--metrics pointing_game: metric 'pointing_game' needs ground-truth masks"]),
    (["--metrics", "deletion,deletion:steps=3"],
     ["--metrics: 'deletion' is given twice with different options"]),
    (["--metrics", "deletion:steps"], ["argument --metrics: expected KEY=VALUE"]),
    (["--methods", "gradient,magic"], ["--methods: ", "method 'magic'", "guided_backprop"]),
    (["--n", "0"], ["positive integer"]),
])
def test_usage_errors(run, work, args, fragments):
    result = run("evaluate", "tiny.keras", "data.npz", *args, "--out", "never")
    assert_user_error(result, *fragments)
    assert result.stderr.startswith("usage: vis evaluate")
    assert not (work / "never").exists()


@pytest.mark.slow
@pytest.mark.parametrize("model, data, args, fragments", [
    # a metric's own check, prefixed with the --metrics item its option came from
    ("tiny.keras", "data.npz", ["--metrics", "deletion:steps=0"],
     ["vis: error: --metrics deletion: `steps` must be an int >= 1, got 0."]),
    ("tiny.keras", "data.npz", ["--seed", "-1"], ["--seed: `seed` must be None"]),
    ("twoout.keras", "data.npz", [], ["2 outputs", "vis evaluate explains single-output"]),
    ("tiny.keras", "badshape.npz", [], ["has shape (4, 5, 5, 1)", "expects (n, 8, 8, 1)"]),
    ("tiny.keras", "data.npz", ["--fit-data", "badshape.npz"], ["x in 'badshape.npz'"]),
])
def test_errors_after_the_model_is_loaded(run, work, model, data, args, fragments):
    result = run("evaluate", model, data, "--methods", "gradient", *args, "--out", "never")
    assert_user_error(result, *fragments)
    assert not (work / "never").exists()


_SCRIPT = """
import sys
from vis.cli import main
cases = [["evaluate", "missing.keras", "data.npz"], ["evaluate", "tiny.keras", "missing.npz"],
         ["evaluate", "tiny.keras", "notes.txt"],
         ["evaluate", "tiny.keras", "data.npz", "--fit-data", "missing.npz"],
         ["evaluate", "tiny.keras", "data.npz", "--out", "notes.txt"],
         ["evaluate", "tiny.keras", "taken/evaluation.json", "--out", "taken"]]
print([main(args) for args in cases], "tensorflow" in sys.modules, "keras" in sys.modules)
"""


@pytest.mark.slow
def test_file_errors_come_before_tensorflow_is_imported(work):
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    before = sorted(p.name for p in work.iterdir())
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[2, 2, 2, 2, 2, 2] False False"
    lines = proc.stderr.splitlines()
    assert len(lines) == 6 and all(line.startswith("vis: error: ") for line in lines), lines
    for line, fragment in zip(lines, [
            "MODEL: model file not found", "DATA: data file not found",
            "DATA must be a .npz file with arrays x and y",
            "--fit-data: data file not found", "--out 'notes.txt' is an existing file",
            "would overwrite the input file 'taken/evaluation.json'"]):
        assert fragment in line, (fragment, line)
    assert sorted(p.name for p in work.iterdir()) == before
