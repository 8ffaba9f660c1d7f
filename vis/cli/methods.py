"""`vis methods`: the table of registered attribution methods (`vis.methods.table()`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from vis.cli._registry import load_methods

__all__ = ["run", "COLUMNS", "rows", "format_table", "format_markdown"]

COLUMNS = ("name", "aliases", "family", "signed", "description")
"""The columns printed, keys of `vis.methods.table()` rows."""


def run(args: argparse.Namespace) -> int:
    """Runs `vis methods`: prints every registered method, aligned or as Markdown.

    Args:
        args: The parsed arguments (`markdown`, and the global `--import`).

    Returns:
        The exit status, 0.
    """
    methods = load_methods(args)
    table = rows(methods.table())
    print(format_markdown(table) if args.markdown else format_table(table))
    return 0


def rows(table: Sequence[dict]) -> list[list[str]]:
    """The cells of `COLUMNS` for each row of `vis.methods.table()`, as text.

    Args:
        table: The rows of `vis.methods.table()`.

    Returns:
        One list of strings per method (aliases comma-separated, `signed` as yes/no).

    Example:
        >>> rows([{"name": "m", "aliases": ["a"], "family": "custom", "signed": True,
        ...        "description": "Mine."}])
        [['m', 'a', 'custom', 'yes', 'Mine.']]
    """
    out = []
    for row in table:
        cells = []
        for column in COLUMNS:
            value = row[column]
            if isinstance(value, bool):
                value = "yes" if value else "no"
            elif isinstance(value, (list, tuple)):
                value = ", ".join(value)
            cells.append(str(value))
        out.append(cells)
    return out


def format_table(cells: Sequence[Sequence[str]]) -> str:
    """Aligned columns under a header line.

    Args:
        cells: The rows of `rows()`.

    Returns:
        The text, one line per method after the header.

    Example:
        >>> print(format_table([["m", "a", "custom", "yes", "Mine."]]))
        name  aliases  family  signed  description
        m     a        custom  yes     Mine.
    """
    lines = [list(COLUMNS), *[list(c) for c in cells]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(line, widths)), line[-1]]).rstrip()
        for line in lines
    )


def format_markdown(cells: Sequence[Sequence[str]]) -> str:
    """A Markdown table (names and aliases as code).

    Args:
        cells: The rows of `rows()`.

    Returns:
        The table's text.

    Example:
        >>> print(format_markdown([["m", "a, b", "custom", "yes", "Mine."]]))
        | name | aliases | family | signed | description |
        |---|---|---|---|---|
        | `m` | `a`, `b` | custom | yes | Mine. |
    """

    def code(text: str) -> str:
        return ", ".join(f"`{part}`" for part in text.split(", ")) if text else ""

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for name, aliases, *rest in cells:
        row = [code(name), code(aliases), *(c.replace("|", "\\|") for c in rest)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
