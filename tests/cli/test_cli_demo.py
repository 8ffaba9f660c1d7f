"""`vis demo --fast` end to end (subprocess): every figure, the summary and its numbers."""

import re
import shutil
import subprocess

import pytest
from cli_testing import assert_png, run_vis

pytestmark = pytest.mark.slow

FIGURES = ("methods.png", "signal_quality.png", "pss_profile.png", "pss_input.png",
           "sanity_curves.png", "sanity_maps.png", "evaluation.png")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    proc = run_vis("demo", "--fast", "--out", "out", cwd=folder, timeout=300)
    return folder / "out", proc


def test_demo_fast_writes_every_figure(demo):
    out, proc = demo
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for name in FIGURES:
        assert_png(out / name, min_size=(200, 150))
    methods = out / "methods.png"
    from PIL import Image

    with Image.open(methods) as im:  # input + one column per registered method, 4 rows: wide
        assert im.size[0] > 2 * im.size[1]


def test_demo_progress_is_shown(demo):
    _, proc = demo
    steps = re.findall(r"^\[(\d)/7\] ", proc.stderr, flags=re.MULTILINE)
    assert steps == [str(i) for i in range(1, 8)], proc.stderr
    # Nothing but progress on stderr: no TensorFlow banner, no warnings (e.g. retracing).
    noise = [line for line in proc.stderr.splitlines()
             if not re.match(r"^(\[\d/7\] .* \.\.\.|      done in [\d.]+ s.*)$", line)]
    assert noise == [], noise


def test_demo_summary_links_figures_and_reports_numbers(demo):
    out, _ = demo
    summary = (out / "summary.md").read_text()
    for name in FIGURES:
        assert f"({name})" in summary, name
    accuracy = float(re.search(r"Test accuracy:\*\* ([\d.]+)%", summary).group(1))
    assert 80.0 < accuracy <= 100.0
    from vis.utils.digits import load_digits

    (x_train, _), (x_test, _) = load_digits(seed=0)
    assert f"scikit-learn digits, {len(x_test)} test images; trained on {len(x_train)})" \
        in summary
    # rho(S) per layer (--fast: the filter and two-component estimators), finite, in [-1, 1].
    for estimator in ("filter", "two_component"):
        row = re.search(rf"^\| {estimator} \|(.*)\|$", summary, flags=re.MULTILINE).group(1)
        values = [float(v) for v in row.split("|")]
        assert len(values) == 4 and all(-1.0 <= v <= 1.0 for v in values), row
    # Sanity tables: the gradient decorrelates once the logits are random, guided backprop less.
    def first_step(method, metric):
        block = summary.split(f"### {method}")[1]
        row = re.search(rf"^\| {metric} \| ([-\d.]+) \|", block, flags=re.MULTILINE)
        return float(row.group(1))

    assert first_step("gradient", "spearman") < first_step("guided_backprop", "spearman")
    assert "Switch-off experiment" in summary
    # The evaluation: every default method against random; IG far better on deletion.
    block = summary.split("## Evaluation")[1]
    rows = {m: float(re.search(rf"^\| {m}(?: \(control\))? \| \**([\d.]+)", block,
                               flags=re.MULTILINE).group(1))
            for m in ("integrated_gradients", "gradient", "random")}
    assert rows["integrated_gradients"] < 0.5 * rows["random"], rows


@pytest.mark.skipif(shutil.which("vis") is None, reason="the console script is not installed")
def test_console_script_is_installed():
    proc = subprocess.run(["vis", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for command in ("demo", "saliency", "cam", "sanity"):
        assert command in proc.stdout
