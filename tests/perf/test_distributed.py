"""`strategy=`: explanations split across replicas equal the single-device ones (subprocesses).

Logical devices and multi-worker clusters must be set up before TensorFlow initializes, so
each check runs in fresh processes (see `distributed_check.py`, `multiworker_check.py`).
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _env(**extra) -> dict:
    path = os.pathsep.join([REPO] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                     if p])
    return dict(os.environ, PYTHONPATH=path, TF_CPP_MIN_LOG_LEVEL="2", **extra)


@pytest.mark.slow
def test_mirrored_strategy_over_two_logical_cpus_equals_one_device(tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(HERE, "distributed_check.py"),
                           str(tmp_path)], cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    checks = json.loads(proc.stdout.strip().splitlines()[-1])
    assert checks.pop("replicas") == 2
    assert checks and all(checks.values()), checks


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_strategy_shards_the_batches_over_two_workers(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = [subprocess.Popen(
        [sys.executable, os.path.join(HERE, "multiworker_check.py"), str(tmp_path)], cwd=REPO,
        env=_env(TF_CONFIG=json.dumps({"cluster": cluster,
                                       "task": {"type": "worker", "index": i}})),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    wrote = [out.strip().splitlines()[-1].split()[1:] for out, _ in outputs]
    assert wrote == [[f"maps-{k:03d}.npz" for k in (0, 2, 4, 6)],
                     [f"maps-{k:03d}.npz" for k in (1, 3, 5)]]
    import keras

    import vis

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    x = np.random.default_rng(0).normal(size=(200, 8, 8, 1)).astype("float32")
    shards = [np.load(tmp_path / f"maps-{k:03d}.npz") for k in range(7)]
    np.testing.assert_array_equal(np.concatenate([s["index"] for s in shards]), np.arange(200))
    np.testing.assert_array_equal(np.concatenate([s["maps"] for s in shards]),
                                  vis.explain(model, x))
