"""The method registry as the commands see it: `--import` modules first, then names resolved.

Importing `vis.methods` imports TensorFlow, so the commands call `load_methods` only once every
file argument has been checked.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from types import ModuleType

from vis.cli._errors import ArgumentError, UsageError, import_tensorflow

__all__ = ["load_methods", "import_modules", "resolve"]


def load_methods(args: argparse.Namespace) -> ModuleType:
    """Imports TensorFlow (quietly), `vis.methods` and the `--import` modules.

    Args:
        args: The parsed arguments (`--traceback`, `--import`).

    Returns:
        The `vis.methods` module, with every method the `--import` modules register.

    Raises:
        UsageError: If TensorFlow or an `--import` module cannot be imported.
    """
    import_tensorflow(args)
    from vis import methods

    import_modules(getattr(args, "imports", None) or [])
    return methods


def import_modules(names: list[str]) -> list[ModuleType]:
    """Imports the `--import` modules: module names (the current folder is on the path) or
    `.py` files.

    Args:
        names: Module names such as `my_methods` or `pkg.methods`, or paths to `.py` files.

    Returns:
        The imported modules, in order.

    Raises:
        UsageError: `--import NAME: ...` for a module that does not exist or cannot be
            imported (a missing dependency).

    Example:
        >>> import_modules(["my_methods"])  # doctest: +SKIP
    """
    if names and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # the console script does not put it there
    modules = []
    for name in names:
        try:
            if name.endswith(".py"):
                modules.append(_import_file(name))
            else:
                modules.append(importlib.import_module(name))
        except ImportError as err:
            raise UsageError(f"--import {name}: {err}") from None
    return modules


def _import_file(path: str) -> ModuleType:
    if not os.path.isfile(path):
        raise ImportError(f"no such file: {path!r}")
    stem = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[stem] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(stem, None)
        raise
    return module


def resolve(methods: ModuleType, name: str, parser: argparse.ArgumentParser | None = None,
            option: str = "--method"):
    """The registered `Method` for a name or alias given on the command line.

    Args:
        methods: The `vis.methods` module (from `load_methods`).
        name: The name or alias the user typed.
        parser: The command's parser, for the usage line of the error. Defaults to `None`.
        option: The option the name came from. Defaults to `"--method"`.

    Returns:
        The `vis.methods.Method`.

    Raises:
        ArgumentError: `--method: <the registry's message>` (it lists the valid names and
            aliases) for an unknown name.
    """
    try:
        return methods.get(name)
    except (ValueError, TypeError) as err:
        raise ArgumentError(f"{option}: {err}", parser) from None
