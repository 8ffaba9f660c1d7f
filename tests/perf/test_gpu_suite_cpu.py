"""`benchmarks/gpu_suite.py --cpu-tiny` runs (what the GPU suite runs, on a tiny model): CI."""

import os
import subprocess
import sys

import vis

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def test_gpu_suite_runs_every_method_in_cpu_tiny_mode():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join(
        [REPO] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "gpu_suite.py"),
                           "--cpu-tiny"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    rows = {line.split()[2]: line for line in lines if line.startswith("tiny_cnn")}
    assert "bare" in rows  # the limit ("bare gradient")
    builtin = [n for n in vis.methods.names()
               if getattr(vis.methods.get(n).raw, "__module__", "").startswith("vis.methods")]
    for name in builtin:  # every registered method is measured, none fails
        assert name in rows, name
        assert "n/a" not in rows[name], rows[name]
        rate = rows[name].split()[3].replace(",", "")
        assert float(rate) > 0
    assert "skipped" not in proc.stdout
