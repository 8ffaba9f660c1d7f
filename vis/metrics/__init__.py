"""`vis.metrics`: measure how good an explanation is, with numbers.

One module per metric family, each taking precomputed maps or a method (name, `Method` or
callable, computed with `vis.explain`):

- faithfulness: `deletion`, `insertion` (Petsiuk et al. 2018), `pixel_flipping` (Samek et al.
  2017), `faithfulness_correlation` (Bhatt et al. 2020), `Curve`;
- `infidelity` (Yeh et al. 2019);
- robustness: `max_sensitivity`, `avg_sensitivity` (Yeh et al. 2019);
- complexity: `sparseness` (Chalasani et al. 2020), `complexity` (Bhatt et al. 2020);
- localization: `pointing_game` (Zhang et al. 2018), `relevance_mass` (Arras et al. 2022);
- randomization: the sanity checks of `vis.sanity` and `model_randomization`.

Every metric is also a `Metric` record in a registry (`get`, `names`, `register`, `table`), which
`vis.evaluate(model, x, y, methods=[...], metrics=[...])` draws on to compare methods.

Example:
    >>> import vis
    >>> curve = vis.metrics.deletion(model, x, "integrated_gradients", y)
    >>> curve.auc.mean()
    >>> report = vis.evaluate(model, x, y, methods=["gradient", "integrated_gradients"])
    >>> print(report.to_markdown())
"""

from vis.metrics._base import (
    FAMILIES,
    NEEDS,
    REGISTRY,
    Metric,
    get,
    names,
    register,
    table,
    unregister,
)
from vis.metrics._common import bind_method
from vis.metrics.complexity import complexity, gini, sparseness
from vis.metrics.curve import Curve
from vis.metrics.faithfulness import deletion, faithfulness_correlation, insertion, pixel_flipping
from vis.metrics.infidelity import infidelity
from vis.metrics.localization import pointing_game, relevance_mass
from vis.metrics.randomization import (
    Result,
    data_randomization_test,
    model_randomization,
    model_randomization_test,
)
from vis.metrics.report import Report
from vis.metrics.robustness import avg_sensitivity, max_sensitivity, sensitivities

__all__ = [
    "Curve", "Metric", "FAMILIES", "NEEDS", "REGISTRY", "get", "names", "register", "unregister",
    "table", "deletion", "insertion", "pixel_flipping", "faithfulness_correlation", "infidelity",
    "max_sensitivity", "avg_sensitivity", "sensitivities", "sparseness", "complexity", "gini",
    "pointing_game", "relevance_mass", "model_randomization", "model_randomization_test",
    "data_randomization_test", "Result", "Report", "bind_method",
]

_PETSIUK = "Petsiuk et al. 2018, https://arxiv.org/abs/1806.07421"
_YEH = "Yeh et al. 2019, https://arxiv.org/abs/1901.09392"
_BHATT = "Bhatt et al. 2020, https://arxiv.org/abs/2005.00631"

for _metric in (
    Metric("deletion", deletion, "model", False, "faithfulness", summary="auc", paper=_PETSIUK,
           description="Area under the score curve as the most relevant pixels are removed."),
    Metric("insertion", insertion, "model", True, "faithfulness", summary="auc", paper=_PETSIUK,
           description="Area under the score curve as the most relevant pixels are inserted."),
    Metric("pixel_flipping", pixel_flipping, "model", True, "faithfulness", summary="aopc",
           aliases=("region_perturbation",),
           description="AOPC: mean score drop as the most relevant regions are flipped (MoRF).",
           paper="Samek et al. 2017, https://arxiv.org/abs/1509.06321"),
    Metric("faithfulness_correlation", faithfulness_correlation, "model", True, "faithfulness",
           description="Pearson correlation of subset attribution sums and score drops.",
           paper=_BHATT),
    Metric("infidelity", infidelity, "model", False, "faithfulness", paper=_YEH,
           description="Mean squared error of I . phi as a predictor of f(x) - f(x - I)."),
    Metric("max_sensitivity", max_sensitivity, "method", False, "robustness", paper=_YEH,
           description="Largest relative change of the map under uniform input noise."),
    Metric("avg_sensitivity", avg_sensitivity, "method", False, "robustness", paper=_YEH,
           description="Mean relative change of the map under uniform input noise."),
    Metric("sparseness", sparseness, "maps", True, "complexity", aliases=("gini",),
           description="Gini index of the absolute map: how few pixels carry the attribution.",
           paper="Chalasani et al. 2020, https://arxiv.org/abs/1810.06583"),
    Metric("complexity", complexity, "maps", False, "complexity", paper=_BHATT,
           description="Entropy of the normalized absolute map: how spread out it is."),
    Metric("pointing_game", pointing_game, "masks", True, "localization",
           description="Whether the map's maximum lies inside the ground-truth mask.",
           paper="Zhang et al. 2018, https://arxiv.org/abs/1608.00507"),
    Metric("relevance_mass", relevance_mass, "masks", True, "localization",
           description="Share of the positive relevance inside the ground-truth mask.",
           paper="Arras et al. 2022, https://arxiv.org/abs/2003.07258"),
    Metric("model_randomization", model_randomization, "method", False, "randomization",
           description="Similarity of the map to the fully randomized model's map.",
           paper="Adebayo et al. 2018, https://arxiv.org/abs/1810.03292"),
):
    register(_metric)
del _metric
