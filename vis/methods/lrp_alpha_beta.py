"""LRP-alpha-beta (Bach et al. 2015): positive and negative contributions weighted apart.

Paper: https://doi.org/10.1371/journal.pone.0130140. Every kernel layer passes relevance
`R_i = sum_j (alpha z_ij^+ / z_j^+ - beta z_ij^- / z_j^-) R_j` with `alpha - beta = 1`
(see `vis.pattern.LRP`).
"""

from __future__ import annotations

import numpy as np

from vis.methods._base import Method, register
from vis.methods._fitted import check_output

__all__ = ["raw"]


def raw(model, inputs, targets, *, alpha: float = 1.0, beta: float = 0.0, output=-1,
        batch_size: int | None = None) -> np.ndarray:
    """LRP-alpha-beta relevance of each sample's target, signed, shaped like the input.

    Args:
        model: A Keras ReLU network (never modified).
        inputs: A validated batch.
        targets: One output index per sample.
        alpha: Weight of the positive contributions. Defaults to `1`.
        beta: Weight of the negative contributions (`alpha - beta = 1`). Defaults to `0`.
        output: Must name the model's output layer. Defaults to `-1`.
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        Maps shaped like `inputs`.

    Example:
        >>> maps = raw(model, x, y, alpha=2.0, beta=1.0)
    """
    from vis.pattern import LRP

    check_output(model, output, "lrp_alpha_beta")
    return np.asarray(LRP(model, rule="alpha_beta", alpha=alpha, beta=beta).maps(
        inputs, np.asarray(targets), batch_size=batch_size))


register(Method(
    "lrp_alpha_beta", raw, family="propagation", signed=True, aliases=("lrp_ab",),
    description="Layer-wise relevance propagation, alpha-beta rule.",
    paper="Bach et al. 2015, https://doi.org/10.1371/journal.pone.0130140",
))
