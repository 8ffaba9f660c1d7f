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
           "noise_tunnel", "check_smooth", "resolve_targets", "target_score", "REGISTRY"]

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
