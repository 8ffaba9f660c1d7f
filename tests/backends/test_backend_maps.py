"""Every registered method, the fitted patterns, signal quality, `vis.evaluate` scores and PSS
profiles on this backend equal TensorFlow's, computed from the same weights and inputs.

Run by `test_other_backends.py` in the JAX and PyTorch subprocesses, which it gives TensorFlow's
numbers (computed in the main process, nothing stored in the repository) through
`VIS_TENSORFLOW_MAPS`; skipped elsewhere.
"""

import os

import numpy as np
import pytest
from backend_maps import all_maps


def test_every_method_gives_the_tensorflow_numbers():
    path = os.environ.get("VIS_TENSORFLOW_MAPS")
    if not path:
        pytest.skip("needs TensorFlow's maps: run by test_other_backends.py")
    with np.load(path) as data:
        want = {k: data[k] for k in data.files}
    got = all_maps()
    assert sorted(got) == sorted(want)
    bad = []
    for key in sorted(want):
        scale = float(np.nanmax(np.abs(want[key]))) if np.size(want[key]) else 0.0
        err = float(np.nanmax(np.abs(got[key] - want[key]))) if np.size(want[key]) else 0.0
        if not err <= 1e-5 * scale + 1e-12 or np.isnan(got[key]).sum() != np.isnan(
                want[key]).sum():
            bad.append(f"{key}: max error {err:.3g}, scale {scale:.3g}")
    assert not bad, "differs from TensorFlow by more than 1e-5 relative:\n" + "\n".join(bad)
