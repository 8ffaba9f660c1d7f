"""Sanity checks for saliency maps (Adebayo et al. 2018): model and data randomization tests.

Paper: "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292.

Example:
    >>> from vis.sanity import model_randomization_test
    >>> result = model_randomization_test(model, x_test[:32], y_test[:32], "guided_backprop")
    >>> print(result.summary())
    >>> curves, grid = result.plot()
"""

from vis.sanity import explainers, metrics
from vis.sanity.data_randomization import data_randomization_test
from vis.sanity.plotting import plot_comparison, plot_maps, plot_scores
from vis.sanity.randomization import model_randomization_test
from vis.sanity.reinit import randomization_steps, reinitialize_layer
from vis.sanity.result import Result

__all__ = [
    "Result",
    "data_randomization_test",
    "explainers",
    "metrics",
    "model_randomization_test",
    "plot_comparison",
    "plot_maps",
    "plot_scores",
    "randomization_steps",
    "reinitialize_layer",
]
