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

pytestmark = pytest.mark.slow


def test_there_is_a_notebook_per_story():
    names = [p.stem for p in NOTEBOOKS]
    for story in ("saliency_on_digits", "steering_regressor", "conv_filter_saliency",
                  "patternnet", "pss_misclassified", "sanity_checks"):
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
    for page in ("methods/gradcam", "methods/patternnet", "guides/sanity_checks", "guides/pss"):
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
