"""The front door keeps working: notebooks execute (VIS_FAST=1), docs build strictly, README commands."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "examples").glob("*.ipynb"))
DOC_PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
SKIP_MARK = "<!-- docs-test: skip"
# Cost knobs shrunk when the snippets run in CI (like VIS_FAST=1 for the notebooks).
FAST_SETTINGS = [(r"\bepochs=\d+", "epochs=2"), (r"\bsamples=\d+", "samples=4"),
                 (r"\bsteps=\d+", "steps=8"), (r"\bmax_iter=\d+", "max_iter=5"),
                 (r"\bn_random=\d+", "n_random=2")]

pytestmark = pytest.mark.slow


def test_there_is_a_notebook_per_story():
    names = [p.stem for p in NOTEBOOKS]
    for story in ("saliency_on_digits", "steering_regressor", "conv_filter_saliency",
                  "patternnet", "pss_misclassified", "sanity_checks", "text_classifier",
                  "two_input_model", "time_series_classifier"):
        assert any(story in n for n in names), (story, names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_stored_figures_and_no_errors(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no stored figure"
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_fast(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("VIS_FAST", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError with the failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed")
def test_docs_build_strict(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = tmp_path / "site"
    for page in ("methods/gradcam", "methods/patternnet", "guides/sanity_checks", "guides/pss",
                 "methods/occlusion", "methods/rise", "methods/scorecam", "methods/layercam",
                 "methods/kernel_shap", "methods/lime", "methods/feature_ablation"):
        html = (site / page / "index.html").read_text()
        assert "doc-heading" in html, f"{page}: the API block did not render"
        assert "arxiv.org" in html or "doi.org" in html, f"{page}: no paper link"


def test_every_docs_image_exists_and_is_small():
    docs = REPO / "docs"
    for md in docs.rglob("*.md"):
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", md.read_text()):
            image = (md.parent / target).resolve()
            assert image.is_file(), f"{md.relative_to(REPO)} -> {target}"
            assert image.stat().st_size < 200_000, f"{image.name} is larger than 200 kB"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    lines = (REPO / "README.md").read_text().splitlines()
    fence = lines.index("```bash")
    assert fence <= 5, "the commands must come right after the title and the pitch"
    first, second = lines[fence + 1], lines[fence + 2]
    assert first.startswith('pip install -e ".[tf-cpu]" && vis demo --out demo_out')
    test_command = 'pip install -e ".[test]" && python -m pytest -q'
    assert second.startswith(test_command)
    assert (REPO / "docs/img/methods_grid.png").is_file()
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1].strip() == test_command


def python_blocks(text):
    """The ```python blocks of a page, with whether each is marked `<!-- docs-test: skip ... -->`
    on the line before its fence (for blocks that are not meant to run)."""
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        blocks.append((match.group(1), before.startswith(SKIP_MARK)))
    return blocks


PAGES_WITH_CODE = [p for p in DOC_PAGES if python_blocks(p.read_text())]


def test_every_page_with_code_is_tested():
    names = {p.relative_to(REPO).as_posix() for p in PAGES_WITH_CODE}
    for page in ("README.md", "docs/quickstart.md", "docs/guides/pss.md",
                 "docs/methods/guided_backprop.md", "docs/guides/sanity_checks.md"):
        assert page in names, page


@pytest.mark.parametrize("page", PAGES_WITH_CODE,
                         ids=[p.relative_to(REPO).as_posix() for p in PAGES_WITH_CODE])
def test_doc_snippets_run(page, digits_cnn, tmp_path, monkeypatch):
    """Every ```python block of the page runs, in order, in a fresh namespace that holds only
    what the pages say they continue from (the quickstart's trained digits CNN and data), in a
    temporary working folder (snippets may write files)."""
    monkeypatch.chdir(tmp_path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, (x_train, y_train), (x_test, y_test) = digits_cnn
    namespace = {"model": model, "x_train": x_train[:300], "y_train": y_train[:300],
                 "x_test": x_test, "y_test": y_test, "x": x_test[:8], "y": y_test[:8],
                 "__name__": "__docs__"}
    for i, (code, skip) in enumerate(python_blocks(page.read_text())):
        if skip:
            continue
        for pattern, fast in FAST_SETTINGS:
            code = re.sub(pattern, fast, code)
        try:
            exec(compile(code, f"{page.name} block {i}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page.relative_to(REPO)}, python block {i} fails:\n{code}"
                                 ) from exc
        finally:
            plt.close("all")


def test_extras_pick_the_tensorflow_package_per_platform():
    """`[test]`/`[examples]`/`[tf-cpu]`: tensorflow-cpu except on macOS (no wheels there);
    `[test-notf]` is `[test]` without TensorFlow, for machines that already have one."""
    import configparser

    from packaging.requirements import Requirement

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    extras = {name: [Requirement(line) for line in value.strip().splitlines() if line.strip()]
              for name, value in cfg["options.extras_require"].items()}
    for name in ("test", "examples", "tf-cpu"):
        for platform, expected in (("linux", "tensorflow-cpu"), ("win32", "tensorflow-cpu"),
                                   ("darwin", "tensorflow")):
            chosen = [r.name for r in extras[name] if r.name.startswith("tensorflow")
                      and (r.marker is None or r.marker.evaluate({"sys_platform": platform}))]
            assert chosen == [expected], (name, platform, chosen)
    assert [str(r) for r in extras["tf"]] == ["tensorflow>=2.16"]
    for full, notf in (("test", "test-notf"), ("examples", "examples-notf")):
        names = [r.name for r in extras[notf]]
        assert not any(n.startswith("tensorflow") for n in names)
        assert names == [r.name for r in extras[full] if not r.name.startswith("tensorflow")]
    readme = (REPO / "README.md").read_text()
    assert 'pip install -e ".[test-notf]" && python -m pytest -q' in readme
    assert 'pip install "tensorflow[and-cuda]"' in readme
