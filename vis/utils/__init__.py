"""Utilities: layer look-up, image helpers, plotting, the bundled digits data."""

from vis.utils.image import normalize, overlay
from vis.utils.model import find_last_conv_layer, find_layer_idx, iter_layers, resolve_layer
from vis.utils.plotting import plot_maps, show_grid

__all__ = [
    "find_layer_idx",
    "find_last_conv_layer",
    "iter_layers",
    "normalize",
    "overlay",
    "plot_maps",
    "resolve_layer",
    "show_grid",
]
