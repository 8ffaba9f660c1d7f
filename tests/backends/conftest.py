"""The backend tests run in the main suite (TensorFlow) and, in subprocesses, under
`KERAS_BACKEND=jax` and `KERAS_BACKEND=torch` (see `test_other_backends.py`).

With `VIS_TEST_WITHOUT_TENSORFLOW=1` (what those subprocesses set), importing TensorFlow fails,
as on a machine where only JAX or PyTorch is installed: everything these tests use must run
without it.
"""

import os
import sys

if os.environ.get("VIS_TEST_WITHOUT_TENSORFLOW") == "1":
    sys.modules["tensorflow"] = None  # `import tensorflow` raises ImportError from now on
