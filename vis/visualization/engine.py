"""Moved to `vis.engine` (and the model copies to `vis.copies`); kept so old imports work.

Example:
    >>> from vis.visualization import engine  # the same module as `vis.engine`
"""

import sys

from vis import engine as _engine

sys.modules[__name__] = _engine
