"""`vis methods` lists the registry; `vis --import MODULE` makes a user's methods usable in every
command (a subprocess with the module on PYTHONPATH, and in process)."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_testing import REPO, assert_png, assert_user_error, build_tiny_model, run_vis, vis_main

pytestmark = pytest.mark.slow

# A user's module: registers a method "mine" (alias "my_method") that returns 2 x - 1.
USER_MODULE = '''
import numpy as np
import vis.methods


def mine(model, inputs, targets, **options):
    """Twice the input minus one (a test method)."""
    return 2.0 * np.asarray(inputs) - 1.0


vis.methods.register("mine", mine, family="custom", aliases=("my_method",))
'''


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    from cli_testing import write_images

    folder = tmp_path_factory.mktemp("cli_methods")
    build_tiny_model(folder / "tiny.keras")
    write_images(folder)
    (folder / "user").mkdir()
    (folder / "user" / "user_methods.py").write_text(USER_MODULE)
    return folder


@pytest.fixture
def registered():
    """Names registered by a test, unregistered afterwards."""
    import vis.methods

    names = []
    yield names
    for name in names:
        if name in vis.methods.REGISTRY:
            vis.methods.unregister(name)


def table_lines(stdout):
    return [line for line in stdout.splitlines() if line.strip()]


def test_methods_lists_every_name_alias_and_family(capsys):
    import vis.methods

    result = vis_main(capsys, "methods")
    assert result.returncode == 0, result.stderr
    lines = table_lines(result.stdout)
    assert lines[0].split() == ["name", "aliases", "family", "signed", "description"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert sorted(rows) == vis.methods.names()
    starts = {line.index("family") for line in lines[:1]}
    for row in vis.methods.table():
        line = rows[row["name"]]
        for alias in row["aliases"]:
            assert re.search(rf"(^|[ ,]){re.escape(alias)}(,| |$)", line), (alias, line)
        assert line.endswith(row["description"])
        starts.add(line.index(f" {row['family']} ") + 1)  # aligned: one column start
    assert len(starts) == 1, starts


def test_methods_markdown_is_the_table_of_the_docs(capsys):
    import vis.methods

    result = vis_main(capsys, "methods", "--markdown")
    assert result.returncode == 0, result.stderr
    lines = table_lines(result.stdout)
    assert lines[0] == "| name | aliases | family | signed | description |"
    assert lines[1] == "|---|---|---|---|---|"
    assert len(lines) == 2 + len(vis.methods.names())
    for row, line in zip(vis.methods.table(), lines[2:]):
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        assert cells[0] == f"`{row['name']}`"
        assert cells[2:4] == [row["family"], "yes" if row["signed"] else "no"]
    # docs/cli.md shows this very output: the docs hook expands its marker with it
    import importlib.util

    spec = importlib.util.spec_from_file_location("methods_table",
                                                  REPO / "docs" / "_ext" / "methods_table.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    docs = hook.on_page_markdown((REPO / "docs" / "cli.md").read_text())
    assert result.stdout.strip() in docs


def test_a_method_registered_in_process_is_listed(capsys, registered):
    import vis.methods

    vis.methods.register("mine_inproc", lambda m, x, t, **o: np.asarray(x),
                         description="The input (in-process test).", aliases=("mine_alias",))
    registered.append("mine_inproc")
    result = vis_main(capsys, "methods")
    assert result.returncode == 0, result.stderr
    line = next(li for li in result.stdout.splitlines() if li.startswith("mine_inproc "))
    assert "mine_alias" in line and "custom" in line and "The input (in-process test)." in line
    vis.methods.unregister("mine_inproc")
    registered.clear()
    assert "mine_inproc" not in vis_main(capsys, "methods").stdout


def test_import_a_py_file_in_process(work, capsys, monkeypatch, registered):
    monkeypatch.chdir(work)
    monkeypatch.delitem(sys.modules, "user_methods", raising=False)
    registered.append("mine")
    result = vis_main(capsys, "--import", "user/user_methods.py", "methods")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^mine +my_method +custom +yes +Twice the input minus one",
                     result.stdout, flags=re.MULTILINE), result.stdout
    monkeypatch.delitem(sys.modules, "user_methods", raising=False)


@pytest.mark.parametrize("module, fragments", [
    ("no_such_module_xyz", ["--import no_such_module_xyz", "No module named"]),
    ("user/missing.py", ["--import user/missing.py", "no such file"]),
])
def test_import_errors(work, capsys, monkeypatch, module, fragments):
    monkeypatch.chdir(work)
    assert_user_error(vis_main(capsys, "--import", module, "methods"), *fragments)


def test_imported_method_in_every_command(work, monkeypatch):
    """Subprocesses with the user's module on PYTHONPATH: `vis methods` lists it, `vis saliency`
    explains with it (the map is |2 x - 1|, min-max scaled)."""
    monkeypatch.setenv("PYTHONPATH", str(work / "user"))
    listed = run_vis("--import", "user_methods", "methods", cwd=work)
    explained = run_vis("--import", "user_methods", "saliency", "tiny.keras", "blob.png",
                        "--method", "my_method", "--out", "mine.png", "--npy", cwd=work)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^mine +my_method +custom", listed.stdout, flags=re.MULTILINE)
    assert explained.returncode == 0, explained.stderr
    assert explained.stderr == ""
    assert_png(work / "mine.png")
    from PIL import Image

    with Image.open(work / "blob.png") as im:
        x = np.asarray(im.convert("L").resize((8, 8), Image.Resampling.BILINEAR), "float32")
    heat = np.abs(2.0 * x / 255.0 - 1.0)
    expected = (heat - heat.min()) / (heat.max() - heat.min())
    np.testing.assert_allclose(np.load(work / "mine.npy"), expected, atol=1e-5)


def test_no_matplotlib_backend_is_set_in_the_package():
    """vis draws on `Figure` objects or pyplot; only `main` defaults MPLBACKEND (to Agg)."""
    for path in Path(REPO, "vis").rglob("*.py"):
        assert not re.search(r"^\s*matplotlib\.use\(", path.read_text(), flags=re.MULTILINE), path
