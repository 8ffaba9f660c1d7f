"""vis: explain Keras 3 models, correctly and fast.

The one-call front door is `vis.explain(model, inputs, method, targets)`; `vis.methods` is the
registry of attribution methods it draws on. `vis.evaluate(model, inputs, targets)` compares
methods with the metrics of `vis.metrics` (faithfulness, robustness, complexity, ...). The keras-vis API lives in `vis.visualization`,
and `vis.pattern`, `vis.pss` and `vis.sanity` hold PatternNet/LRP, parameter-space saliency and
the sanity checks. Importing `vis` is cheap: the submodules (and TensorFlow) load on first use.

Example:
    >>> import vis
    >>> maps = vis.explain(model, x, "integrated_gradients")
    >>> vis.release(model)  # free the copies and compiled functions vis keeps for `model`
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

__all__ = ["explain", "evaluate", "release", "methods", "metrics", "__version__"]

_LAZY = {"explain": ("vis._explain", "explain"), "evaluate": ("vis._evaluate", "evaluate"),
         "release": ("vis.copies", "release")}


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in ("methods", "engine", "copies", "registry", "backend", "losses", "grad_modifiers",
                "backprop_modifiers", "visualization", "pattern", "pss", "sanity", "utils",
                "metrics"):
        return importlib.import_module(f"vis.{name}")
    raise AttributeError(f"module 'vis' has no attribute {name!r}")
