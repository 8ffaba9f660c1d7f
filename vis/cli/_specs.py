"""`--metrics` of `vis evaluate`: names with options, `deletion:steps=50,baseline=blur,sparseness`.

Parsed without importing TensorFlow (the names and options are checked against the metric
registry by the command, once the files have been checked).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

__all__ = ["literal", "metric_specs", "spec_text"]

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_KEY = re.compile(r"[A-Za-z_]\w*")
_WORDS = {"true": True, "false": False, "none": None}


def literal(text: str) -> Any:
    """A command-line option value as a Python value: int, float, bool, `None` or str.

    `50` is an int, `0.5` and `1e-3` are floats, `true` / `false` (any case) are booleans,
    `none` is `None`; anything else is a string. Quotes force a string: `'50'` is `"50"`.

    Args:
        text: The value as typed.

    Returns:
        The value.

    Example:
        >>> [literal(v) for v in ("50", "0.5", "True", "none", "blur", "'7'")]
        [50, 0.5, True, None, 'blur', '7']
    """
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return _WORDS[text.lower()] if text.lower() in _WORDS else text


def metric_specs(value: str) -> list[dict[str, Any]]:
    """One `--metrics` value: comma-separated metric names, each with optional options.

    `NAME` alone, or `NAME:KEY=VALUE` followed by more `KEY=VALUE` items for the same metric:
    `deletion:steps=50,baseline=blur,sparseness` is deletion with two options, then sparseness.
    Values are read by `literal`.

    Args:
        value: The option's text.

    Returns:
        One dict `{"name": NAME, KEY: VALUE, ...}` per metric, in order (the form
        `vis.metrics.get` and `vis.evaluate(metrics=...)` take).

    Raises:
        argparse.ArgumentTypeError: For an empty list, an option before any metric name, an
            item that is not `KEY=VALUE`, or an option given twice to one metric.

    Example:
        >>> metric_specs("deletion:steps=50,baseline=blur,sparseness")
        [{'name': 'deletion', 'steps': 50, 'baseline': 'blur'}, {'name': 'sparseness'}]
    """
    specs: list[dict[str, Any]] = []
    for item in (v.strip() for v in value.split(",")):
        if not item:
            continue
        if "=" not in item:  # a metric name, perhaps with a colon but no option
            name, colon, rest = item.partition(":")
            if colon:
                raise argparse.ArgumentTypeError(
                    f"expected KEY=VALUE after {name.strip() + ':'!r}, got {rest.strip()!r} "
                    "(e.g. deletion:steps=50)"
                )
            specs.append({"name": name})
            continue
        head, colon, option = item.partition(":")
        if colon and "=" not in head:  # NAME:KEY=VALUE starts a metric
            specs.append({"name": head.strip()})
        elif not specs:
            raise argparse.ArgumentTypeError(
                f"the option {item!r} comes before any metric name; write NAME:KEY=VALUE, e.g. "
                "deletion:steps=50"
            )
        else:
            option = item
        key, _, text = (s.strip() for s in option.partition("="))
        spec = specs[-1]
        if not _KEY.fullmatch(key) or not text:
            raise argparse.ArgumentTypeError(
                f"expected KEY=VALUE for metric {spec['name']!r}, got {option.strip()!r}"
            )
        if key == "name":
            raise argparse.ArgumentTypeError(f"metric {spec['name']!r}: 'name' is not an option")
        if key in spec:
            raise argparse.ArgumentTypeError(
                f"metric {spec['name']!r}: the option {key!r} is given twice"
            )
        spec[key] = literal(text)
    if not specs:
        raise argparse.ArgumentTypeError(
            f"expected metric names separated by commas, got {value!r}"
        )
    return specs


def spec_text(spec: dict[str, Any]) -> str:
    """A metric spec as the user typed it (canonical spacing), for messages.

    Example:
        >>> spec_text({"name": "deletion", "steps": 50, "baseline": "blur"})
        'deletion:steps=50,baseline=blur'
    """
    options = ",".join(f"{k}={_show(v)}" for k, v in spec.items() if k != "name")
    return f"{spec['name']}:{options}" if options else spec["name"]


def _show(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return str(value).lower()
    return str(value)
