"""Every consumer iterates the `vis.methods` registry: no list of method names outside it.

The package is read with `ast`: a string constant (docstrings aside) equal to a registered method
name or alias, anywhere in `vis/` outside the registry (`vis/methods/`) and the backprop-modifier
registry (`vis/backprop_modifiers.py`, whose own names `guided` / `deconvnet` are modifier
names), or in `docs/make_figures.py`, is a method named by hand: take it from the registry (or
from `vis.methods`' default selections, e.g. `vis.methods.SANITY_DEFAULTS`) instead.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXCLUDED = [REPO / "vis" / "methods", REPO / "vis" / "backprop_modifiers.py"]


def consumer_files() -> list[Path]:
    files = [p for p in sorted((REPO / "vis").rglob("*.py"))
             if not any(p == e or e in p.parents for e in EXCLUDED)]
    return [*files, REPO / "docs" / "make_figures.py"]


def docstring_nodes(tree: ast.AST) -> set[int]:
    """The ids of the docstring constants of a module, its classes and its functions."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                ids.add(id(body[0].value))
    return ids


def method_name_constants(source: str, names: set[str]) -> list[tuple[int, str]]:
    """`(line, value)` of every string constant of `source` that is one of `names`."""
    tree = ast.parse(source)
    docstrings = docstring_nodes(tree)
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and node.value in names and id(node) not in docstrings)


def test_the_scan_finds_names_and_skips_docstrings():
    source = '''
"""Module docstring: gradient."""
LIST = ("gradient", "other")


def f(method="guided"):
    """Docstring: lrp."""
    return {"ig": 1}, f"{method} gradient"
'''
    found = method_name_constants(source, {"gradient", "guided", "lrp", "ig"})
    assert found == [(3, "gradient"), (6, "guided"), (8, "ig")]


def test_no_method_names_outside_the_registry():
    import vis.methods

    names = set(vis.methods.names(aliases=True))
    assert len(names) > len(vis.methods.names())  # aliases included
    files = consumer_files()
    assert REPO / "vis" / "demo.py" in files and REPO / "vis" / "cli" / "saliency.py" in files
    assert not any((REPO / "vis" / "methods") in p.parents for p in files)
    found = [f"{path.relative_to(REPO)}:{line}: {value!r}"
             for path in files
             for line, value in method_name_constants(path.read_text(), names)]
    assert not found, "method names spelled by hand (use the registry):\n" + "\n".join(found)


@pytest.mark.parametrize("module", ["vis.cli", "vis.demo", "vis.pattern.plotting"])
def test_consumers_have_no_method_lists(module):
    """The old name lists are gone (the consumers iterate the registry)."""
    import importlib

    mod = importlib.import_module(module)
    for old in ("SALIENCY_METHODS", "CAM_METHODS", "SANITY_METHODS", "_DEFAULT_SANITY_METHODS",
                "SIGNED_METHODS", "_TITLES", "_OPTION_NAMES", "_SANITY_OPTION_NAMES"):
        assert not hasattr(mod, old), (module, old)
