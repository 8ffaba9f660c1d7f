"""mkdocs hook: replaces `<!-- vis:methods-table -->` with the table of `vis.methods`, and
`<!-- vis:metrics-table -->` with the table of `vis.metrics`.

The docs list the methods and metrics from the registries themselves, so a registered method or
metric appears without editing any page.
"""

from __future__ import annotations

MARKER = "<!-- vis:methods-table -->"
CLI_MARKER = "<!-- vis:methods-cli-table -->"
METRICS_MARKER = "<!-- vis:metrics-table -->"


def methods_markdown() -> str:
    """The registered methods as a Markdown table (name, aliases, family, signed, description)."""
    from vis import methods

    lines = ["| method | aliases | family | signed | what the map is | paper |",
             "|---|---|---|---|---|---|"]
    for row in methods.table():
        aliases = ", ".join(f"`{a}`" for a in row["aliases"])
        paper = row["paper"]
        if "http" in paper:
            text, url = paper.rsplit(", ", 1)
            paper = f"[{text}]({url})"
        lines.append(f"| `{row['name']}` | {aliases} | {row['family']} | "
                     f"{'yes' if row['signed'] else 'no'} | {row['description']} | {paper} |")
    return "\n".join(lines)


def _paper_link(paper: str) -> str:
    if "http" in paper:
        text, url = paper.rsplit(", ", 1)
        return f"[{text}]({url})"
    return paper


def metrics_markdown() -> str:
    """The registered metrics as a Markdown table (name, family, needs, direction, ...)."""
    from vis import metrics

    lines = ["| metric | family | needs | better | what it measures | paper |",
             "|---|---|---|---|---|---|"]
    for row in metrics.table():
        better = "higher ↑" if row["higher_is_better"] else "lower ↓"
        lines.append(f"| `{row['name']}` | {row['family']} | {row['needs']} | {better} | "
                     f"{row['description']} | {_paper_link(row['paper'])} |")
    return "\n".join(lines)


def methods_cli_markdown() -> str:
    """Exactly what `vis methods --markdown` prints."""
    from vis import methods
    from vis.cli.methods import format_markdown, rows

    return format_markdown(rows(methods.table()))


def on_page_markdown(markdown: str, **kwargs) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, methods_markdown())
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, methods_cli_markdown())
    if METRICS_MARKER in markdown:
        markdown = markdown.replace(METRICS_MARKER, metrics_markdown())
    return markdown
