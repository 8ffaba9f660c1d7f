"""Shared pieces of the methods that need fitted patterns (PatternNet, PatternAttribution)."""

from __future__ import annotations

import numpy as np

__all__ = ["fit_patterns_option", "check_output", "require_patterns"]


def fit_patterns_option(model, x: np.ndarray, batch_size: int | None = None) -> dict:
    """`{"patterns": fit_patterns(model, x)}`: two-component patterns fitted on `x`.

    What the sanity checks and the evaluation use to explain each model they see: a randomized
    model has its own signal directions.
    """
    from vis.pattern import fit_patterns

    return {"patterns": fit_patterns(model, x, batch_size=batch_size or 256, verbose=False)}


def require_patterns(patterns, method: str) -> None:
    """Raises a clear error when `patterns=` is missing."""
    if patterns is None:
        raise ValueError(
            f"Method {method!r} needs `patterns=`: fit them once on training data with "
            f"`patterns = vis.pattern.fit_patterns(model, x_train)` and pass "
            f"`vis.explain(model, x, {method!r}, patterns=patterns)`."
        )


def check_output(model, output, method: str) -> None:
    """PatternNet, PatternAttribution and LRP explain the model's output layer only."""
    from vis import engine
    from vis.pattern import _layers

    if output in (-1, None):
        return
    copy = engine.get_copy(model)
    path, _ = copy.layer(output, "output")
    if path != _layers.output_layer(model)[0]:
        raise ValueError(
            f"Method {method!r} explains the model's output layer; `output`={output!r} names "
            f"layer {path!r}. Leave `output=-1`."
        )
