"""LRP-epsilon (Bach et al. 2015): relevance redistributed in proportion to contributions.

Paper: "On Pixel-Wise Explanations for Non-Linear Classifier Decisions by Layer-Wise Relevance
Propagation", https://doi.org/10.1371/journal.pone.0130140. Every kernel layer passes relevance
`R_i = sum_j x_i w_ij / (z_j + eps sign(z_j)) R_j`, starting from the target's pre-softmax value
(see `vis.pattern.LRP`).
"""

from __future__ import annotations

import numpy as np

from vis.methods._base import Method, register
from vis.methods._fitted import check_output

__all__ = ["raw"]


def raw(model, inputs, targets, *, epsilon: float = 1e-7, output=-1,
        batch_size: int | None = None) -> np.ndarray:
    """LRP-epsilon relevance of each sample's target, signed, shaped like the input.

    Args:
        model: A Keras ReLU network (never modified).
        inputs: A validated batch.
        targets: One output index per sample.
        epsilon: The stabilizer (> 0). Defaults to `1e-7`.
        output: Must name the model's output layer. Defaults to `-1`.
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`.

    Example:
        >>> maps = raw(model, x, y)
    """
    from vis.pattern import LRP

    check_output(model, output, "lrp_epsilon")
    return np.asarray(LRP(model, rule="epsilon", epsilon=epsilon).maps(
        inputs, np.asarray(targets), batch_size=batch_size))


register(Method(
    "lrp_epsilon", raw, family="propagation", signed=True, aliases=("lrp", "lrp_eps"),
    description="Layer-wise relevance propagation, epsilon rule.",
    paper="Bach et al. 2015, https://doi.org/10.1371/journal.pone.0130140",
))
