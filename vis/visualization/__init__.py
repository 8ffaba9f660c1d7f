"""Attribution maps, keras-vis style: saliency, Grad-CAM and friends."""

from vis.losses import per_sample
from vis.utils.image import overlay
from vis.utils.utils import get_num_filters
from vis.visualization._postprocess import ZeroMapWarning
from vis.visualization.activation import visualize_activation, visualize_activation_with_losses
from vis.visualization.cam import visualize_cam, visualize_cam_with_losses
from vis.visualization.gradient_x_input import visualize_gradient_x_input
from vis.visualization.integrated_gradients import visualize_integrated_gradients
from vis.visualization.saliency import visualize_saliency, visualize_saliency_with_losses
from vis.visualization.smoothgrad import visualize_smoothgrad

__all__ = [
    "ZeroMapWarning",
    "get_num_filters",
    "overlay",
    "per_sample",
    "visualize_activation",
    "visualize_activation_with_losses",
    "visualize_cam",
    "visualize_cam_with_losses",
    "visualize_gradient_x_input",
    "visualize_integrated_gradients",
    "visualize_saliency",
    "visualize_saliency_with_losses",
    "visualize_smoothgrad",
]
