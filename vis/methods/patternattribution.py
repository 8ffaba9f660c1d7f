"""PatternAttribution (Kindermans et al. 2018): the attribution of the detected signal.

Paper: https://arxiv.org/abs/1705.05598. Each kernel layer back-projects with `W * A` (weights
times fitted pattern), starting from the target's pre-softmax value `y_k` (see
`vis.pattern.PatternAttribution`). Needs `patterns=` from `vis.pattern.fit_patterns`.
"""

from __future__ import annotations

import numpy as np

from vis.methods._base import Method, register
from vis.methods._fitted import check_output, fit_patterns_option, require_patterns

__all__ = ["raw"]


def raw(model, inputs, targets, *, patterns=None, output=-1,
        batch_size: int | None = None) -> np.ndarray:
    """PatternAttribution of each sample's target, signed, shaped like the input.

    Args:
        model: A Keras ReLU network (never modified).
        inputs: A validated batch.
        targets: One output index per sample.
        patterns: `vis.pattern.Patterns` fitted on this model (required).
        output: Must name the model's output layer. Defaults to `-1`.
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`.

    Raises:
        ValueError: Without `patterns`, or for layers PatternAttribution does not support.

    Example:
        >>> from vis.pattern import fit_patterns
        >>> maps = raw(model, x, y, patterns=fit_patterns(model, x_train))
    """
    from vis.pattern import PatternAttribution

    require_patterns(patterns, "patternattribution")
    check_output(model, output, "patternattribution")
    return np.asarray(PatternAttribution(model, patterns).maps(
        inputs, np.asarray(targets), batch_size=batch_size))


register(Method(
    "patternattribution", raw, family="propagation", signed=True, fit=fit_patterns_option,
    requires=("patterns",), aliases=("pattern_attribution",),
    description="Attribution of the detected signal: back-projection with weights x patterns.",
    paper="Kindermans et al. 2018, https://arxiv.org/abs/1705.05598",
))
