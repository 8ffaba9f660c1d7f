"""PatternNet, PatternAttribution, signal-estimator quality and LRP (Kindermans et al. 2018).

Paper: "Learning how to explain neural networks: PatternNet and PatternAttribution", ICLR 2018,
https://arxiv.org/abs/1705.05598. Fit the patterns once (`fit_patterns`), then explain with
`PatternNet` (the signal), `PatternAttribution` (its attribution) or keras-vis style with
`visualize_saliency(..., backprop_modifier=vis.pattern.modifier(patterns))`; compare estimators
with `signal_quality`; `LRP` gives the paper's relevance baselines. `release(model)` (the same
function as `vis.release`) frees the model copies and compiled passes vis keeps for a model.
"""

from vis.copies import release
from vis.pattern.estimators import ESTIMATORS, get_estimator
from vis.pattern.explainers import PatternAttribution, PatternModifier, PatternNet, modifier
from vis.pattern.fit import fit_patterns
from vis.pattern.lrp import LRP, LRPModifier
from vis.pattern.patterns import Patterns
from vis.pattern.plotting import METHODS, compare_maps, plot_maps, plot_signal_quality
from vis.pattern.quality import signal_quality

__all__ = [
    "ESTIMATORS",
    "LRP",
    "LRPModifier",
    "METHODS",
    "PatternAttribution",
    "PatternModifier",
    "PatternNet",
    "Patterns",
    "compare_maps",
    "fit_patterns",
    "get_estimator",
    "modifier",
    "plot_maps",
    "plot_signal_quality",
    "release",
    "signal_quality",
]
