"""The backend-neutral tests of this folder under `KERAS_BACKEND=jax` and `KERAS_BACKEND=torch`.

Each backend runs in a subprocess (Keras picks its backend once per process) with TensorFlow
made unimportable (`VIS_TEST_WITHOUT_TENSORFLOW=1`, as on a machine with only JAX or PyTorch):
the NumPy oracles, the coverage of every part of vis, and every method's maps against
TensorFlow's, which this (TensorFlow) process computes and hands over in a file. Skipped when
the backend's package is not installed (`pip install -e ".[jax]"` / `".[torch]"`).
"""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from vis import backend

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FILES = ["test_backend_oracles.py", "test_backend_coverage.py", "test_backend_maps.py"]

pytestmark = pytest.mark.skipif(backend.name() != "tensorflow",
                                reason="runs the other backends from the TensorFlow suite")


@pytest.fixture(scope="module")
def tensorflow_maps(tmp_path_factory):
    from backend_maps import all_maps

    path = tmp_path_factory.mktemp("tensorflow") / "maps.npz"
    np.savez(path, **all_maps())
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", ["jax", "torch"])
def test_the_backend_tests_pass_on(name, tensorflow_maps):
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[{name}]')")
    env = dict(os.environ, KERAS_BACKEND=name, VIS_TEST_WITHOUT_TENSORFLOW="1",
               VIS_TENSORFLOW_MAPS=str(tensorflow_maps), TF_CPP_MIN_LOG_LEVEL="2")
    files = FILES
    if name == "jax":  # two host devices, for `strategy=` sharding (test_jax_data_parallel.py)
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                            " --xla_force_host_platform_device_count=2").strip()
        files = FILES + ["test_jax_data_parallel.py"]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               *[os.path.join("tests", "backends", f) for f in files]]
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    output = proc.stdout[-8000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, f"KERAS_BACKEND={name}: {' '.join(command)}\n{output}"
    assert " passed" in proc.stdout and " skipped" not in proc.stdout, output
