"""Randomization: does the explanation depend on what the model learned? (Adebayo et al. 2018)

The sanity checks of `vis.sanity`, reachable from `vis.metrics`: `model_randomization_test`,
`data_randomization_test` and their `Result`, plus `model_randomization`, a per-input metric for
`vis.evaluate`: the similarity of each input's map from the trained model to its map from the
model with **every** layer re-initialized at once (one step of the cascading test, so it costs
two explanations whatever the depth). Lower is better: a map that survives the randomization
of all weights does not explain them. Methods that learn from data (PatternNet) are fitted
again on the randomized model.

Paper: J. Adebayo, J. Gilmer, M. Muelly, I. Goodfellow, M. Hardt, B. Kim, "Sanity Checks for
Saliency Maps", NeurIPS 2018, https://arxiv.org/abs/1810.03292.
"""

from __future__ import annotations

import numpy as np

from vis import methods
from vis.metrics import _common
from vis.sanity import Result, data_randomization_test, model_randomization_test
from vis.sanity.reinit import randomization_steps

__all__ = ["model_randomization", "model_randomization_test", "data_randomization_test",
           "Result"]


def model_randomization(model, inputs, targets, method, *, similarity: str = "spearman_abs",
                        layers=None, seed: int | None = 0, batch_size: int | None = None,
                        **options) -> np.ndarray:
    """Similarity of each map to its map from the fully randomized model (lower is better).

    Runs `vis.sanity.model_randomization_test` with one step that re-initializes every layer
    with weights (or the layers of `layers`) from their initializers, and returns the
    `similarity` metric of that step.

    Paper: Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018,
    https://arxiv.org/abs/1810.03292.

    Args:
        model: The trained Keras model (never modified).
        inputs: A batch of inputs (or one input).
        targets: `None` (each input's predicted class), an int, or one int per input: the
            class explained for both models.
        method: A method name, `vis.methods.Method` or callable.
        similarity: A `vis.sanity.metrics` name: `'spearman_abs'` (the paper's main metric),
            `'spearman'`, `'ssim'` or `'hog'`. Defaults to `'spearman_abs'`.
        layers: The layers randomized together (ids). Defaults to `None` (every layer with
            weights).
        seed: Seed of the re-initialization. Defaults to `0`.
        batch_size: Passed to the method. Defaults to `None`.
        **options: The method's options (fitted ones, e.g. `patterns=`, are fitted again on
            the randomized model).

    Returns:
        `(N,)` similarities (for Spearman: in [-1, 1]).

    Raises:
        ValueError: For an unknown `similarity` or layer, and the sanity check's errors.
        TypeError: For a `method` that is not a method.

    Example:
        >>> model_randomization(model, x, y, "gradient").mean()  # near 0: passes
    """
    from vis.sanity.explainers import Explainer

    if not isinstance(similarity, str):
        raise TypeError(f"`similarity` must be a vis.sanity.metrics name, got {similarity!r}.")
    if not _common.is_method(method):
        raise TypeError(f"`method` must be a method name, a vis.methods.Method or a callable, "
                        f"got {type(method).__name__}.")
    x, t, _ = _common.prepare(model, inputs, targets, batch_size)
    m = methods.get(method)
    explainer = Explainer(m)
    kept = {k: v for k, v in options.items() if not (m.fit is not None and k in m.requires)}

    def explain(model_, x_, y_, batch_size=None):
        return explainer(model_, x_, y_, batch_size=batch_size, **kept)

    explain.__name__ = m.name
    if layers is None:
        layers = [p for _, paths in randomization_steps(model) for p in paths]
    result = model_randomization_test(
        model, x, t, explain, mode="cascading", metrics=(similarity,), target="label",
        seed=seed, batch_size=batch_size, verbose=False, layers=[list(layers)],
    )
    return np.asarray(result.scores[similarity][-1], dtype="float64")
