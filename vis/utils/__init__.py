"""Utilities: layer look-up, image helpers, plotting (images, tokens, series, features), safe file
loading, the bundled digits data. `vis.utils.utils` is keras-vis' `vis.utils.utils` module.

The names below are imported on first access (PEP 562 module `__getattr__`), so that importing a
light submodule such as `vis.utils.io` does not import Keras and TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from vis.utils.image import normalize, overlay, overlay_heatmap
    from vis.utils.model import (
        find_last_conv_layer,
        find_layer_idx,
        iter_layers,
        resolve_layer,
    )
    from vis.utils.plot_sequences import plot_features, plot_series, plot_tokens, tokens_html
    from vis.utils.plotting import plot_maps, show_grid

_LAZY = {
    "find_layer_idx": "vis.utils.model",
    "find_last_conv_layer": "vis.utils.model",
    "iter_layers": "vis.utils.model",
    "resolve_layer": "vis.utils.model",
    "normalize": "vis.utils.image",
    "overlay": "vis.utils.image",
    "overlay_heatmap": "vis.utils.image",
    "plot_maps": "vis.utils.plotting",
    "show_grid": "vis.utils.plotting",
    "plot_tokens": "vis.utils.plot_sequences",
    "tokens_html": "vis.utils.plot_sequences",
    "plot_series": "vis.utils.plot_sequences",
    "plot_features": "vis.utils.plot_sequences",
}

__all__ = [
    "find_layer_idx",
    "find_last_conv_layer",
    "iter_layers",
    "normalize",
    "overlay",
    "overlay_heatmap",
    "plot_features",
    "plot_maps",
    "plot_series",
    "plot_tokens",
    "resolve_layer",
    "show_grid",
    "tokens_html",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vis.utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
