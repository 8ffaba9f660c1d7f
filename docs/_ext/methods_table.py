"""mkdocs hook: replaces `<!-- vis:methods-table -->` with the table of `vis.methods`.

The docs list the methods from the registry itself, so a registered method appears without
editing any page.
"""

from __future__ import annotations

MARKER = "<!-- vis:methods-table -->"


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


def on_page_markdown(markdown: str, **kwargs) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, methods_markdown())
