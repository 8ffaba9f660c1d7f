"""Griffe extension: render Keras-style `Example:` sections as code examples.

The project's docstrings follow the Keras style, whose section is `Example:` (singular). Griffe's
Google parser only treats `Examples:` as an examples section (rendered as Python console code) and
shows `Example:` as a plain admonition, where `>>>` lines become nested block quotes and
`[...]` outputs are mistaken for cross-references. This extension renames the section header
before the docstring is parsed. It changes nothing in the source files.
"""

from __future__ import annotations

import re

from griffe import Extension, Object

_HEADER = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class KerasStyleExamples(Extension):
    """Rewrites `Example:` section headers to `Examples:` in every loaded docstring."""

    def on_instance(self, *, obj: Object, **kwargs) -> None:
        docstring = obj.docstring
        if docstring is not None and "Example:" in docstring.value:
            docstring.value = _HEADER.sub(r"\1Examples:", docstring.value)
