"""Vanilla saliency on every Keras backend against that backend's bare compiled gradient.

For each installed backend (TensorFlow, JAX, PyTorch), in its own subprocess (Keras picks its
backend once per process), on the benchmarks' small CNN at batch 32:

- bare: the gradient of the pre-softmax logit of class 0 w.r.t. the input, written directly
  with the backend's own tools (`tf.function` + `tf.GradientTape`, `jax.jit(jax.grad)` over
  `stateless_call`, eager `torch.autograd.grad`; `--torch-compile`: `torch.compile` too), the
  result brought back to NumPy as vis does;
- vis: `vis.explain(model, x, "gradient", 0)`, the same map (validated inputs, the cached
  compiled function on a model copy, NumPy out);
- vis, predicted class: `vis.explain(model, x, "gradient")` (one more forward pass, to find
  each input's predicted class).

Prints images/second (the best round) and the ratio vis / bare (the median over rounds of the
two times measured back to back in the same round, so that a change of load on shared cores
affects both alike; target: >= 0.8 at batch 32) per backend.

    python benchmarks/backends.py [--quick] [--backends jax torch] [--torch-compile]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


def _bare_gradient(model, backend: str, class_index: int = 0, torch_compile: bool = False):
    """`fn(x) -> np.ndarray`: d logit[class_index] / d x, with the backend's own tools."""
    import keras
    import numpy as np

    last = model.layers[-1]
    logits_model = keras.Model(model.inputs[0], last.input)
    if backend == "tensorflow":
        from _common import bare_gradient

        grad = bare_gradient(model, class_index)
        return lambda x: grad(x).numpy()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def score(x, trainable, non_trainable, w, b):
            h, _ = logits_model.stateless_call(trainable, non_trainable, x)
            return jnp.sum(h @ w[:, class_index] + b[class_index])

        grad = jax.jit(jax.grad(score))

        def run(x):
            trainable = [v.value for v in logits_model.trainable_variables]
            non_trainable = [v.value for v in logits_model.non_trainable_variables]
            return np.asarray(grad(x, trainable, non_trainable, last.kernel.value,
                                   last.bias.value))

        return run
    import torch

    def grad(x):
        x = x.detach().requires_grad_(True)
        h = logits_model(x)
        score = (h @ last.kernel.value[:, class_index] + last.bias.value[class_index]).sum()
        return torch.autograd.grad(score, x)[0]

    compiled = torch.compile(grad) if torch_compile else grad
    return lambda x: compiled(torch.as_tensor(x)).detach().cpu().numpy()


def _interleaved_times(fns: dict, repeats: int, calls: int = 3) -> dict:
    """Seconds per call of each function in every round, the functions timed in turns
    (round-robin), so that a change of the machine's load (other processes on shared cores)
    affects every function of a round alike."""
    for fn in fns.values():  # warm-up: compile / trace
        fn()
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append((time.perf_counter() - start) / calls)
    return times


def child(backend: str, batch: int, repeats: int, torch_compile: bool) -> dict:
    """Runs in the subprocess of one backend; returns the rates."""
    import numpy as np
    from _common import data, small_cnn

    import vis

    model = small_cnn()
    x = data(model, batch)
    bare = _bare_gradient(model, backend, 0, torch_compile)
    want = bare(x)
    got = vis.explain(model, x, "gradient", 0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    times = _interleaved_times({
        "bare": lambda: bare(x),
        "vis": lambda: vis.explain(model, x, "gradient", 0),
        "vis_predicted": lambda: vis.explain(model, x, "gradient"),
    }, repeats)
    bare_t = np.asarray(times["bare"])
    out = {"backend": backend, "batch": batch}
    for name, t in times.items():
        out[name] = batch / min(t)  # the best round: images / second
        # the median over rounds of bare time / this time, both measured in the same round
        out[f"{name}_ratio"] = float(np.median(bare_t / np.asarray(t)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--torch-compile", action="store_true",
                        help="torch.compile the bare PyTorch gradient")
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeats = 5 if args.quick else 30
    if args.child:
        print(json.dumps(child(args.child, args.batch, repeats, args.torch_compile)))
        return
    here = os.path.dirname(os.path.abspath(__file__))
    print(f"vanilla saliency vs the bare compiled gradient, small CNN (32x32x3), "
          f"batch {args.batch}, {os.cpu_count()} CPU cores")
    print(f"{'backend':12} {'bare img/s':>11} {'vis img/s':>10} {'vis/bare':>9} "
          f"{'predicted-class img/s':>22} {'ratio':>6}")
    for backend in args.backends:
        if importlib.util.find_spec(backend) is None:
            print(f"{backend:12} not installed")
            continue
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
        command = [sys.executable, os.path.join(here, "backends.py"), "--child", backend,
                   "--batch", str(args.batch)] + (["--quick"] if args.quick else []) + (
                   ["--torch-compile"] if args.torch_compile else [])
        proc = subprocess.run(command, env=env, capture_output=True, text=True, cwd=here)
        if proc.returncode != 0:
            print(f"{backend:12} failed:\n{proc.stderr[-3000:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{backend:12} {r['bare']:11.1f} {r['vis']:10.1f} {r['vis_ratio']:9.2f} "
              f"{r['vis_predicted']:22.1f} {r['vis_predicted_ratio']:6.2f}")


if __name__ == "__main__":
    main()
