"""`vis.explain` with every registered method: bad common options, each listed defect, work bounds.

Every case asserts a clean `ValueError` / `TypeError` naming the parameter, or a finite,
non-degenerate map; and that the model is unchanged.
"""

import re

import numpy as np
import pytest

import vis
from fuzz.fuzz_helpers import OK, assert_clean_message, check_case
from vis.errors import NaNMapWarning, ZeroMapWarning
from vis.utils import checks

SEGMENTS = np.arange(36).reshape(6, 6) // 9  # 4 segments of a 6 x 6 image
CHEAP = {
    "smoothgrad": dict(samples=2), "integrated_gradients": dict(steps=2),
    "kernel_shap": dict(samples=16, segments=SEGMENTS), "lime": dict(samples=8, segments=SEGMENTS),
    "rise": dict(masks=6, cells=2), "occlusion": dict(window=3), "scorecam": dict(max_channels=3),
}
CAM = {"gradcam", "gradcam_plus_plus", "layercam", "scorecam", "guided_gradcam"}


def _options(name, patterns):
    options = dict(CHEAP.get(name, {}))
    if vis.methods.get(name).requires:
        options["patterns"] = patterns
    return options


def _common_cases():
    """`(id, method, kwargs or callable of x, expected)` for every method x bad common option."""
    cases = []
    for name in vis.methods.names():
        accepts_seed = vis.methods.get(name).accepts("seed")
        table = [
            ("ok", {}, OK),
            ("batch_size_0", {"batch_size": 0}, (ValueError, "batch_size")),
            ("batch_size_bool", {"batch_size": True}, (ValueError, "batch_size")),
            ("targets_bool_in_list", {"targets": [1, True, 0, 0]}, (TypeError, "targets")),
            ("targets_out_of_range", {"targets": 7}, (ValueError, "targets")),
            ("targets_float", {"targets": 1.5}, (TypeError, "targets")),
            ("output_unknown", {"output": "nope"}, (ValueError, "output")),
            ("layer_unknown", {"layer": "nope"},
             (ValueError if name in CAM else TypeError, "layer")),
            ("inputs_nan", {"inputs": "nan"}, (ValueError, "inputs")),
            ("inputs_wrong_shape", {"inputs": "shape"}, (ValueError, "inputs")),
            ("smooth_samples_0", {"smooth": {"samples": 0}}, (ValueError, "smooth['samples']")),
            ("smooth_unknown_key", {"smooth": {"bogus": 1}}, (ValueError, "smooth")),
            ("unknown_option", {"bogus": 1}, (TypeError, "bogus")),
        ]
        if accepts_seed:
            table += [("seed_str", {"seed": "abc"}, (ValueError, "seed")),
                      ("seed_negative", {"seed": -3}, (ValueError, "seed")),
                      ("seed_float", {"seed": 1.5}, (ValueError, "seed"))]
        cases += [pytest.param(name, kwargs, expected, id=f"{name}-{case}")
                  for case, kwargs, expected in table]
    return cases


@pytest.mark.parametrize("name, kwargs, expected", _common_cases())
def test_every_method_and_common_option(convnet, patterns, name, kwargs, expected):
    model, x, y = convnet
    kwargs = dict(kwargs)
    inputs = {"nan": np.where(x > 0.5, np.nan, x), "shape": x[:, :5]}.get(kwargs.pop("inputs", None),
                                                                       x)
    targets = kwargs.pop("targets", y)
    options = {**_options(name, patterns), **kwargs}
    check_case(lambda: vis.explain(model, inputs, name, targets, **options), expected, [model])


LISTED = [
    # issue 14's items, one by one
    ("smoothgrad", dict(seed="abc"), (ValueError, "seed")),
    ("smoothgrad", dict(seed=-3), (ValueError, "seed")),
    ("smoothgrad", dict(samples=10**12), (ValueError, "samples")),
    ("gradient", dict(smooth={"samples": 10**12}), (ValueError, "smooth['samples']")),
    ("gradient", dict(smooth={"noise": "0.1"}), (ValueError, "smooth['noise']")),
    ("gradient", dict(smooth={"seed": "abc"}), (ValueError, "smooth['seed']")),
    ("integrated_gradients", dict(baseline="black"), (ValueError, "baseline")),
    ("integrated_gradients", dict(steps=10**12), (ValueError, "steps")),
    ("integrated_gradients", dict(steps=2, baseline=lambda a: None), (ValueError, "baseline")),
    ("integrated_gradients", dict(steps=2, baseline=lambda a: a * np.nan),
     (ValueError, "baseline")),
    ("integrated_gradients", dict(steps=2, baseline=lambda a: a[0, :2]), (ValueError, "baseline")),
    ("integrated_gradients", dict(steps=2, baseline=np.ones((5, 5))), (ValueError, "baseline")),
    ("integrated_gradients", dict(steps=2, baseline=True), (TypeError, "baseline")),
    ("rise", dict(masks=10**12), (ValueError, "masks")),
    ("rise", dict(masks=10**6, cells=200), (ValueError, "masks")),
    ("lime", dict(samples=10**12, segments=SEGMENTS), (ValueError, "samples")),
    ("kernel_shap", dict(samples=10**9, segments=np.arange(36).reshape(6, 6)),
     (ValueError, "samples")),
    ("occlusion", dict(baseline="black"), (ValueError, "baseline")),
    ("occlusion", dict(baseline=True), (TypeError, "baseline")),
    ("occlusion", dict(baseline=lambda a: a * np.inf), (ValueError, "baseline")),
    ("feature_ablation", dict(baseline=np.ones(5)), (ValueError, "baseline")),
    ("lime", dict(width="0.25", segments=SEGMENTS), (ValueError, "width")),
    ("kernel_shap", dict(smooth={"samples": 2}, samples=16, segments=SEGMENTS), OK),
    ("lime", dict(smooth={"samples": 2}, samples=8, segments=SEGMENTS), OK),
    ("occlusion", dict(window=3, baseline=lambda a: a * 0.5), OK),
    ("integrated_gradients", dict(steps=3, baseline=lambda a: a * 0.5), OK),
]


@pytest.mark.parametrize("name, kwargs, expected", [
    pytest.param(n, k, e, id=f"{n}-{i}") for i, (n, k, e) in enumerate(LISTED)])
def test_listed_defects(convnet, name, kwargs, expected):
    model, x, y = convnet
    got = check_case(lambda: vis.explain(model, x, name, y, **kwargs), expected, [model])
    if "10,000,000" in str(got):  # a work bound: the message says how many were asked for
        assert re.search(r"asks for [\d,]+ ", str(got)) or "GiB" in str(got), got


@pytest.mark.parametrize("name, kwargs, param", [
    ("occlusion", dict(window=1), "strides"),
    ("feature_ablation", {}, "groups"),
    ("rise", dict(masks=20, cells=2), "masks"),
    ("gradient", dict(smooth={"samples": 20}), "smooth['samples']"),
])
def test_work_bound_of_every_perturbation(convnet, monkeypatch, name, kwargs, param):
    """With a lower bound, each method refuses its work up front, naming its parameter."""
    model, x, y = convnet
    monkeypatch.setattr(checks, "MAX_COPIES", 10)
    check_case(lambda: vis.explain(model, x, name, y, **kwargs), (ValueError, param), [model])


def test_noise_and_paths_are_streamed_the_same_in_any_chunks(convnet, monkeypatch):
    """Streaming (chunks of `batch_size`, noise regenerated from the seed) gives the same maps."""
    from vis.methods import _smooth

    model, x, y = convnet
    settings = {"samples": 5, "seed": 2, "kind": "var"}
    whole = vis.explain(model, x, "gradient", y, smooth=settings)
    np.testing.assert_allclose(vis.explain(model, x, "gradient", y, smooth=settings,
                                           batch_size=2), whole, rtol=1e-5, atol=1e-9)
    monkeypatch.setattr(_smooth, "_CACHED_DRAW_BYTES", 1)  # regenerate the noise per chunk
    np.testing.assert_allclose(vis.explain(model, x, "gradient", y, smooth=settings,
                                           batch_size=3), whole, rtol=1e-5, atol=1e-9)
    ig = vis.explain(model, x, "integrated_gradients", y, steps=7)
    np.testing.assert_allclose(vis.explain(model, x, "integrated_gradients", y, steps=7,
                                           batch_size=3), ig, rtol=1e-5, atol=1e-9)


def test_a_method_returning_nan_or_zeros_is_warned_about(convnet):
    model, x, y = convnet
    vis.methods.register("nan_method", lambda m, a, t, **o: np.full(a.shape, np.nan))
    vis.methods.register("zero_method", lambda m, a, t, **o: np.zeros(a.shape))
    try:
        with pytest.warns(NaNMapWarning, match="'nan_method'"):
            vis.explain(model, x, "nan_method", y)
        with pytest.warns(ZeroMapWarning, match=r"'zero_method'.*\[0, 1, 2, 3\]"):
            vis.explain(model, x, "zero_method", y)
    finally:
        vis.methods.unregister("nan_method")
        vis.methods.unregister("zero_method")


def test_a_method_returning_the_wrong_shape_is_refused(convnet):
    model, x, y = convnet
    for bad in (lambda m, a, t, **o: 1.0, lambda m, a, t, **o: None,
                lambda m, a, t, **o: np.ones(3)):
        with pytest.raises(ValueError) as info:
            vis.explain(model, x, bad, y)
        assert_clean_message(str(info.value), None)

