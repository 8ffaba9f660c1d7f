"""Parameter-space saliency (Levin et al., NeurIPS 2022): which filters are to blame for a loss."""

from vis.pss.plotting import plot_input_saliency, plot_profile, saliency_heatmap, sort_layerwise
from vis.pss.saliency import ParameterSaliency
from vis.pss.stats import RunningMoments, batch_moments
from vis.pss.switch_off import SwitchOffResult, switch_off_experiment, switched_off_copy, turn_off

__all__ = [
    "ParameterSaliency",
    "RunningMoments",
    "batch_moments",
    "turn_off",
    "switched_off_copy",
    "switch_off_experiment",
    "SwitchOffResult",
    "plot_profile",
    "plot_input_saliency",
    "saliency_heatmap",
    "sort_layerwise",
]
