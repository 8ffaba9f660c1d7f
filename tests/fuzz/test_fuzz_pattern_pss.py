"""`vis.pattern` (fit_patterns, PatternNet, PatternAttribution, LRP, signal_quality,
Patterns.load) and `vis.pss` (ParameterSaliency, turn_off, switch_off_experiment)."""

import numpy as np
import pytest

from fuzz.fuzz_helpers import OK, check_case
from vis.errors import ZeroMapWarning
from vis.pattern import LRP, PatternAttribution, PatternNet, Patterns, fit_patterns, signal_quality
from vis.pss import ParameterSaliency, switch_off_experiment, turn_off

EXPLAINERS = {
    "PatternNet": lambda m, p, **k: PatternNet(m, p, **k),
    "PatternAttribution": lambda m, p, **k: PatternAttribution(m, p, **k),
    "LRP-epsilon": lambda m, p, **k: LRP(m, **k),
    "LRP-alpha-beta": lambda m, p, **k: LRP(m, rule="alpha_beta", alpha=2, beta=1, **k),
}
EXPLAIN = [
    ("ok", {}, OK),
    ("x_nan", dict(x="nan"), (ValueError, "seed_input")),
    ("x_shape", dict(x="shape"), (ValueError, "seed_input")),
    ("x_text", dict(x="text"), (TypeError, "seed_input")),
    ("filter_true", dict(filter_indices=True), (TypeError, "filter_indices")),
    ("filter_bool_in_list", dict(filter_indices=[1, True, 0, 0]), (TypeError, "filter_indices")),
    ("filter_out_of_range", dict(filter_indices=9), (ValueError, "filter_indices")),
    ("filter_str", dict(filter_indices="a"), (TypeError, "filter_indices")),
    ("filter_wrong_length", dict(filter_indices=np.array([0, 1])), (ValueError, "filter_indices")),
    ("batch_size_0", dict(batch_size=0), (ValueError, "batch_size")),
    ("batch_size_float", dict(batch_size=1.5), (ValueError, "batch_size")),
]


@pytest.mark.parametrize("name, case, kwargs, expected", [
    pytest.param(n, c, k, e, id=f"{n}-{c}") for n in EXPLAINERS for c, k, e in EXPLAIN])
def test_pattern_and_lrp_explain(convnet, patterns, name, case, kwargs, expected):
    model, x, y = convnet
    kwargs = dict(kwargs)
    inputs = {"nan": x * np.nan, "shape": x[:, :4], "text": np.full(x.shape, "a"),
              None: x}[kwargs.pop("x", None)]
    fi = kwargs.pop("filter_indices", y)
    explainer = EXPLAINERS[name](model, patterns)
    check_case(lambda: explainer.explain(inputs, fi, **kwargs), expected, [model])


@pytest.mark.parametrize("make, expected", [
    (lambda m, p: PatternNet(None, p), (TypeError, "model")),
    (lambda m, p: PatternNet(m, None), (TypeError, "patterns")),
    (lambda m, p: PatternAttribution(m, {"conv": 1}), (TypeError, "patterns")),
    (lambda m, p: LRP(None), (TypeError, "model")),
    (lambda m, p: LRP(m, rule="bogus"), (ValueError, "rule")),
    (lambda m, p: LRP(m, epsilon="a"), (TypeError, "epsilon")),
    (lambda m, p: LRP(m, epsilon=float("nan")), (ValueError, "epsilon")),
    (lambda m, p: LRP(m, rule="alpha_beta", alpha="2", beta=1), (TypeError, "alpha")),
], ids=["patternnet_model_none", "patternnet_patterns_none", "patternattribution_dict",
        "lrp_model_none", "lrp_rule", "lrp_epsilon_str", "lrp_epsilon_nan", "lrp_alpha_str"])
def test_pattern_constructors(convnet, patterns, make, expected):
    model, _, _ = convnet
    check_case(lambda: make(model, patterns), expected, [model])


@pytest.mark.parametrize("name", list(EXPLAINERS))
def test_dead_units_warn_zero_maps(dead, name):
    """Units that never fire: every explainer warns (issue 14: PatternNet returned silent zeros)."""
    model, x = dead
    p = fit_patterns(model, x, verbose=False) if name.startswith("Pattern") else None
    with pytest.warns(ZeroMapWarning, match=r"all-zero map for sample\(s\) \[0, 1\]"):
        maps = EXPLAINERS[name](model, p).explain(x, 0)
    assert np.all(maps == 0)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(), OK),
    (dict(model=None), (TypeError, "model")),
    (dict(data=None), (TypeError, "data")),
    (dict(data="text"), (TypeError, "data")),
    (dict(data="nan"), (ValueError, "data")),
    (dict(data="shape"), (TypeError, "data")),
    (dict(data="empty"), (ValueError, "data")),
    (dict(estimator="bogus"), (ValueError, "estimator")),
    (dict(batch_size=0), (ValueError, "batch_size")),
    (dict(verbose="yes"), (TypeError, "verbose")),
    (dict(negative="yes"), (TypeError, "negative")),
    (dict(dtype="int8"), (ValueError, "dtype")),
    (dict(steps=0), (ValueError, "steps")),
], ids=lambda v: str(v) if isinstance(v, dict) else None)
def test_fit_patterns(convnet, kwargs, expected):
    model, x, _ = convnet
    args = dict(model=model, data=x, verbose=False)
    args.update(kwargs)
    if isinstance(args["data"], str):
        args["data"] = {"text": "abc", "nan": x * np.nan, "shape": np.ones((3, 5)),
                        "empty": x[:0]}[args["data"]]
    check_case(lambda: fit_patterns(**args), expected, [model], degenerate_ok=True)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(estimator="linear"), OK),
    (dict(estimator="linear", patterns="fitted"), (ValueError, "patterns")),
    (dict(), (ValueError, "estimator")),
    (dict(estimator="linear", holdout=2), (ValueError, "holdout")),
    (dict(estimator="linear", holdout="a"), (ValueError, "holdout")),
    (dict(estimator="linear", layers="conv"), (TypeError, "layers")),
    (dict(estimator="linear", layers=["zzz"]), (ValueError, "layers")),
    (dict(estimator="linear", verbose="yes"), (TypeError, "verbose")),
], ids=lambda v: str(v) if isinstance(v, dict) else None)
def test_signal_quality(convnet, patterns, kwargs, expected):
    model, x, _ = convnet
    kwargs = {k: patterns if v == "fitted" else v for k, v in kwargs.items()}
    check_case(lambda: signal_quality(model, x, verbose=False, **kwargs)
               if "verbose" not in kwargs else signal_quality(model, x, **kwargs),
               expected, [model])


@pytest.fixture(scope="module")
def files(tmp_path_factory, patterns, psal):
    folder = tmp_path_factory.mktemp("fuzz_files")
    patterns.save(folder / "patterns.npz")
    psal.save(folder / "stats.npz")
    (folder / "garbage.npz").write_text("not an archive")
    np.savez(folder / "other.npz", a=np.ones(3))
    return folder


@pytest.mark.parametrize("path, expected", [
    ("patterns.npz", OK), ("patterns", OK),
    (None, (TypeError, "path")), (3, (TypeError, "path")), (".", (ValueError, "path")),
    ("missing.npz", (FileNotFoundError, "path")), ("garbage.npz", (ValueError, "path")),
    ("other.npz", (ValueError, "path")),
])
def test_patterns_load(files, convnet, path, expected):
    model, _, _ = convnet
    target = path if not isinstance(path, str) else files / path
    check_case(lambda: dict(Patterns.load(target)), expected, [model])


# --- vis.pss ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, expected", [
    (dict(model=None), (TypeError, "model")),
    (dict(model="model.keras"), (TypeError, "model")),
    (dict(loss="bogus"), (ValueError, "loss")),
    (dict(layers=["zzz"]), (ValueError, "layers")),
    (dict(include_dense="yes"), (TypeError, "include_dense")),
    (dict(granularity="pixel"), (ValueError, "granularity")),
    (dict(gradient_method="magic"), (ValueError, "gradient_method")),
], ids=lambda v: str(v) if isinstance(v, dict) else None)
def test_parameter_saliency_constructor(convnet, kwargs, expected):
    model, _, _ = convnet
    args = dict(model=model)
    args.update(kwargs)
    check_case(lambda: ParameterSaliency(**args), expected, [model])


@pytest.mark.parametrize("case, call, expected", [
    ("fit_ok", lambda p, x, y: ParameterSaliency(p.model).fit(x, y, verbose=False), OK),
    ("fit_y_none", lambda p, x, y: ParameterSaliency(p.model).fit(x, None, verbose=False),
     (ValueError, "y")),
    ("fit_y_bool", lambda p, x, y: ParameterSaliency(p.model).fit(x, [1, True, 0, 0],
                                                                  verbose=False),
     (TypeError, "y")),
    ("fit_y_out_of_range", lambda p, x, y: ParameterSaliency(p.model).fit(x, y + 5,
                                                                          verbose=False),
     (ValueError, "y")),
    ("fit_x_nan", lambda p, x, y: ParameterSaliency(p.model).fit(x * np.nan, y, verbose=False),
     (ValueError, "x")),
    ("fit_one_sample", lambda p, x, y: ParameterSaliency(p.model).fit(x[:1], y[:1],
                                                                      verbose=False),
     (ValueError, "x")),
    ("fit_verbose_str", lambda p, x, y: ParameterSaliency(p.model).fit(x, y, verbose="yes"),
     (TypeError, "verbose")),
    ("fit_batch_size_0", lambda p, x, y: ParameterSaliency(p.model).fit(x, y, batch_size=0,
                                                                        verbose=False),
     (ValueError, "batch_size")),
    ("profile_unfitted", lambda p, x, y: ParameterSaliency(p.model).profile(x, y),
     (ValueError, "fit")),
    ("profile_ok", lambda p, x, y: p.profile(x, y), OK),
    ("profile_y_short", lambda p, x, y: p.profile(x, y[:1]), (ValueError, "y")),
    ("top_filters_k_0", lambda p, x, y: p.top_filters(x, y, k=0), (ValueError, "k")),
    ("top_filters_k_bool", lambda p, x, y: p.top_filters(x, y, k=True), (ValueError, "k")),
    ("input_saliency_ok", lambda p, x, y: p.input_saliency(x, y, k=2), OK),
    ("input_saliency_boost_str", lambda p, x, y: p.input_saliency(x, y, k=2, boost="a"),
     (ValueError, "boost")),
    ("input_saliency_boost_nan", lambda p, x, y: p.input_saliency(x, y, k=2, boost=np.nan),
     (ValueError, "boost")),
    ("input_saliency_filters_bool", lambda p, x, y: p.input_saliency(
        x, y, filter_indices=[True, 1]), (TypeError, "filter_indices")),
    ("input_saliency_filters_range", lambda p, x, y: p.input_saliency(
        x, y, filter_indices=[10**6]), (ValueError, "filter_indices")),
])
def test_parameter_saliency_methods(convnet, psal, case, call, expected):
    model, x, y = convnet
    check_case(lambda: call(psal, x, y), expected, [model], degenerate_ok=True)


@pytest.mark.parametrize("path, expected", [
    ("stats.npz", OK), (None, (TypeError, "path")), (".", (ValueError, "path")),
    ("garbage.npz", (ValueError, "path")), ("missing.npz", (FileNotFoundError, "path")),
    ("other.npz", (ValueError, None)),
])
def test_parameter_saliency_load(files, convnet, path, expected):
    model, _, _ = convnet
    target = path if not isinstance(path, str) else files / path
    check_case(lambda: ParameterSaliency(model).load(target), expected, [model])


def _switched_off(model, filters, **kwargs):
    with turn_off(model, filters, **kwargs) as m:
        return m(np.ones((1, 6, 6, 1), "float32")).numpy()


@pytest.mark.parametrize("filters, kwargs, expected", [
    ([("conv", 0)], {}, OK),
    ([("zzz", 0)], {}, (ValueError, "filters")),
    ([("conv", 99)], {}, (ValueError, "filters")),
    ([("conv", True)], {}, (ValueError, "filters")),
    ("conv", {}, (TypeError, "filters")),
    (None, {}, (TypeError, "filters")),
    ([("conv", 0)], dict(bias="yes"), (TypeError, "bias")),
], ids=lambda v: repr(v)[:20])
def test_turn_off(convnet, filters, kwargs, expected):
    model, _, _ = convnet
    check_case(lambda: _switched_off(model, filters, **kwargs), expected, [model])


def test_turn_off_needs_a_model():
    with pytest.raises(TypeError, match="`model`"):
        with turn_off(None, [("conv", 0)]):
            pass


@pytest.mark.parametrize("kwargs, expected", [
    (dict(), OK),
    (dict(seed="abc"), (ValueError, "seed")),
    (dict(seed=-3), (ValueError, "seed")),
    (dict(psal=None), (TypeError, "psal")),
    (dict(psal="unfitted"), (ValueError, "fit")),
    (dict(k=0), (ValueError, "k")),
    (dict(n_random=0), (ValueError, "n_random")),
    (dict(n_random=10**9), (ValueError, "n_random")),
    (dict(misclassified_only="yes"), (TypeError, "misclassified_only")),
    (dict(probabilities="yes"), (TypeError, "probabilities")),
    (dict(y=[0, 1, 2, True]), (TypeError, "y")),
    (dict(model=None), (TypeError, "model")),
], ids=lambda v: str(v) if isinstance(v, dict) else None)
def test_switch_off_experiment(convnet, psal, kwargs, expected):
    model, x, y = convnet
    args = dict(model=model, psal=psal, x=x, y=y, k=1, n_random=1, misclassified_only=False)
    args.update(kwargs)
    if args["psal"] == "unfitted":
        args["psal"] = ParameterSaliency(model)
    check_case(lambda: switch_off_experiment(**args), expected, [model], degenerate_ok=True)
