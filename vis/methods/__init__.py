"""`vis.methods`: the one registry of attribution methods.

A method is one module of this package with one `raw(model, inputs, targets, **options)`
function and one `register(...)` call; every built-in module is imported here, so registering
happens on `import vis.methods`. Every consumer (`vis.explain`, `smooth=`, the sanity checks, the
evaluation, the CLI, the demo and the docs) iterates this registry: a method registered by a user
with `register("mine", fn)` is usable everywhere by name.

Example:
    >>> import vis
    >>> vis.methods.names()[:3]
    ['deconvnet', 'gradcam', 'gradcam_plus_plus']
    >>> vis.methods.get("ig").name
    'integrated_gradients'
"""

import importlib
import pkgutil

from vis.methods._base import FAMILIES, REGISTRY, Method, get, names, register, table, unregister
from vis.methods._smooth import check_smooth, noise_tunnel
from vis.methods._targets import resolve_targets, target_score

__all__ = ["FAMILIES", "Method", "get", "names", "register", "unregister", "table",
           "noise_tunnel", "check_smooth", "resolve_targets", "target_score", "REGISTRY",
           "DEFAULT", "CONTROL", "CAM_DEFAULT", "SANITY_DEFAULTS", "SANITY_EXTENDED", "PATTERN_COMPARISON"]

# The default selections, as data: consumers (vis.explain, the CLI, the demo, the docs' figures,
# vis.pattern.compare_maps) take their defaults from here and never spell method names.
DEFAULT = "gradient"
"""The method of `vis.explain` and `vis saliency` when none is given."""
CONTROL = "random"
"""The control method every evaluation compares with (seeded noise)."""
CAM_DEFAULT = "gradcam"
"""The method of `vis cam` when none is given."""
SANITY_DEFAULTS = ("gradient", "guided_backprop")
"""The methods `vis sanity` and `vis demo --fast` check when none are given: the gradient, which
passes the model randomization test, and guided backprop, which it shows to mostly reflect the
input."""
SANITY_EXTENDED = SANITY_DEFAULTS + ("gradcam", "integrated_gradients")
"""The methods the full `vis demo` checks: the defaults, a CAM and a path method."""
PATTERN_COMPARISON = ("patternnet", "patternattribution", "gradient", "deconvnet", "guided",
                      "lrp")
"""The methods of Kindermans et al. (2018)'s comparison, in its column order (the default of
`vis.pattern.compare_maps`, whose keys are these spellings)."""

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
