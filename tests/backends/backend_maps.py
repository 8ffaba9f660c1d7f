"""Every method's maps (and fitted statistics) on the active backend, for cross-backend checks.

`test_other_backends.py` computes them on TensorFlow in the main process and hands the file to
the JAX and PyTorch subprocesses, whose `test_backend_maps.py` computes them again and compares.
`python tests/backends/backend_maps.py OUT.npz` writes them too. Backend-neutral (no TensorFlow
import).
"""

from __future__ import annotations

import os
import sys

import numpy as np

# options that keep the perturbation methods small (the same on every backend)
OPTIONS = {"rise": {"masks": 128}, "kernel_shap": {"samples": 128, "n_segments": 8},
           "lime": {"samples": 128, "n_segments": 8}, "integrated_gradients": {"steps": 16},
           "smoothgrad": {"samples": 8}, "occlusion": {"window": 3},
           **{name: {"layer": "conv1"} for name in ("gradcam", "gradcam_plus_plus", "layercam",
                                                    "scorecam", "guided_gradcam")}}


def all_maps() -> dict[str, np.ndarray]:
    """`{name: array}`: every registered method on the oracle CNN, plus fitted statistics."""
    from backend_references import cnn, images

    import vis

    model, _ = cnn()
    x = images()
    targets = np.array([0, 1, 2, 3, 1])
    patterns = vis.pattern.fit_patterns(model, images(64, seed=9), verbose=False,
                                        dtype="float64", negative=True)
    out = {f"patterns/{k}": v for k, v in patterns.items()}
    options = dict(OPTIONS, patternnet={"patterns": patterns},
                   patternattribution={"patterns": patterns})
    for name in vis.methods.names():
        out[f"method/{name}"] = np.asarray(
            vis.explain(model, x, name, targets, **options.get(name, {})), dtype="float64")
    rho = vis.pattern.signal_quality(model, images(256, seed=10), patterns=patterns,
                                     verbose=False)  # held-out data (in-sample rho is 1)
    out.update({f"rho/{k}": np.float64(v) for k, v in rho.items()})
    report = vis.evaluate(model, x, targets, methods=["gradient", "gradcam", "random"],
                          metrics=["deletion", "sparseness", "max_sensitivity"], seed=0)
    for method, row in report.scores.items():
        for metric, value in row.items():
            out[f"evaluate/{method}/{metric}"] = np.float64(np.nan if value is None else value)
    psal = vis.pss.ParameterSaliency(model, include_dense=True).fit(x, targets, verbose=False)
    out["pss/profile"] = psal.profile(x, targets)
    out["pss/input_saliency"] = psal.input_saliency(x[:2], targets[:2], k=3)
    return out


if __name__ == "__main__":
    if os.environ.get("VIS_TEST_WITHOUT_TENSORFLOW") == "1":
        sys.modules["tensorflow"] = None  # as on a machine without TensorFlow
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    np.savez(sys.argv[1], **all_maps())
