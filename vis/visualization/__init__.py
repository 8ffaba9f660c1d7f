"""Attribution maps, keras-vis style: saliency, Grad-CAM and friends."""

from vis.visualization._postprocess import ZeroMapWarning
from vis.visualization.cam import visualize_cam
from vis.visualization.saliency import visualize_saliency, visualize_saliency_with_losses

__all__ = [
    "ZeroMapWarning",
    "visualize_cam",
    "visualize_saliency",
    "visualize_saliency_with_losses",
]
