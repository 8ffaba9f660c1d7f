"""`vis.sanity` (the randomization tests and their explainers), `vis.metrics` (every metric)
and `vis.evaluate`."""

import keras
import numpy as np
import pytest

import vis
import vis.metrics
from fuzz.conftest import _convnet
from fuzz.fuzz_helpers import OK, check_case
from vis.errors import ZeroMapWarning
from vis.sanity import data_randomization_test, explainers, model_randomization_test

QUICK = dict(verbose=False, metrics=("spearman",))


def _boom(*args, **kwargs):
    raise RuntimeError("boom")


MRT = [
    ("ok", {}, OK),
    ("model_none", dict(model=None), (TypeError, "model")),
    ("x_nan", dict(x="nan"), (ValueError, "x")),
    ("y_text", dict(y=["a"] * 4), (ValueError, "y")),
    ("y_bool_in_list", dict(y=[1, True, 0, 0]), (TypeError, "y")),
    ("y_out_of_range", dict(y=[9] * 4), (ValueError, "y")),
    ("y_none", dict(y=None), (ValueError, "y")),
    ("method_unknown", dict(method="bogus"), (ValueError, "method")),
    ("method_int", dict(method=3), (TypeError, "method")),
    ("method_raises", dict(method=_boom), (ValueError, "method")),
    ("method_nan", dict(method=lambda m, a, b: a * np.nan), (ValueError, "method")),
    ("method_scalar", dict(method=lambda m, a, b: 1.0), (ValueError, "method")),
    ("method_none", dict(method=lambda m, a, b: None), (ValueError, "method")),
    ("mode", dict(mode="random"), (ValueError, "mode")),
    ("metric_unknown", dict(metrics=["bogus"]), (ValueError, "metric")),
    ("metric_raises", dict(metrics=[_boom]), (ValueError, "metrics")),
    ("metric_wrong_signature", dict(metrics=[lambda a, b: np.zeros(len(a))]),
     (TypeError, "metrics")),
    ("metric_shape", dict(metrics=[lambda a, b, channel_axis=None: 1.0]), (ValueError, "metrics")),
    ("seed_str", dict(seed="abc"), (ValueError, "seed")),
    ("batch_size_0", dict(batch_size=0), (ValueError, "batch_size")),
    ("verbose_str", dict(verbose="yes"), (TypeError, "verbose")),
    ("layers_unknown", dict(layers=["zzz"]), (ValueError, "layers")),
    ("reinitialize_int", dict(reinitialize=3), (TypeError, "reinitialize")),
    ("reinitialize_none", dict(reinitialize=lambda layer: None), (ValueError, "reinitialize")),
    ("reinitialize_raises", dict(reinitialize=_boom), (ValueError, "reinitialize")),
    ("reinitialize_nan", dict(reinitialize=lambda layer: [w * np.nan for w in layer.get_weights()]),
     (ValueError, "reinitialize")),
    ("reinitialize_shape", dict(reinitialize=lambda layer: [np.zeros(1)]),
     (ValueError, "reinitialize")),
    ("channel_axis", dict(channel_axis=7), (ValueError, "channel_axis")),
    ("target", dict(target="best"), (ValueError, "target")),
]


@pytest.mark.parametrize("case, kwargs, expected", [pytest.param(*c, id=c[0]) for c in MRT])
def test_model_randomization_test(convnet, case, kwargs, expected):
    model, x, y = convnet
    args = dict(model=model, x=x, y=y, method="gradient", **QUICK)
    args.update(kwargs)
    if isinstance(args["x"], str):
        args["x"] = x * np.nan
    check_case(lambda: model_randomization_test(**args), expected, [model])


DRT = [
    ("ok", {}, OK),
    ("build_none", dict(build_model=None), (TypeError, "build_model")),
    ("build_the_model", dict(build_model="model"), (TypeError, "build_model")),
    ("build_returns_none", dict(build_model=lambda: None), (TypeError, "build_model")),
    ("build_raises", dict(build_model=_boom), (ValueError, "build_model")),
    ("epochs_0", dict(epochs=0), (ValueError, "epochs")),
    ("n_explained_0", dict(n_explained=0), (ValueError, "n_explained")),
    ("fit_kwargs_unknown", dict(fit_kwargs={"bogus": 1}), (TypeError, "fit_kwargs")),
    ("fit_kwargs_epochs", dict(fit_kwargs={"epochs": 3}), (TypeError, "fit_kwargs")),
    ("fit_kwargs_str", dict(fit_kwargs="a"), (TypeError, "fit_kwargs")),
    ("y_train_text", dict(y_train=["a"] * 4), (ValueError, "y_train")),
    ("x_test_nan", dict(x_test="nan"), (ValueError, "x_test")),
    ("verbose_str", dict(verbose="yes"), (TypeError, "verbose")),
]


@pytest.mark.parametrize("case, kwargs, expected", [pytest.param(*c, id=c[0]) for c in DRT])
def test_data_randomization_test(convnet, case, kwargs, expected):
    model, x, y = convnet
    args = dict(build_model=_convnet, x_train=x, y_train=y, x_test=x, y_test=y,
                method="gradient", epochs=1, **QUICK)
    args.update(kwargs)
    if args["build_model"] == "model":
        args["build_model"] = model
    if isinstance(args["x_test"], str):
        args["x_test"] = x * np.nan
    check_case(lambda: data_randomization_test(**args), expected, [model])


@pytest.mark.parametrize("name", ["gradient", "guided_backprop", "integrated_gradients",
                                  "lrp_epsilon", "patternnet"])
def test_sanity_explainers_called_directly_warn_zero_maps(dead, name):
    model, x = dead
    with pytest.warns(ZeroMapWarning, match=rf"'{name}' gave an all-zero map"):
        maps = explainers.get(name)(model, x, np.zeros(2, int))
    assert np.all(maps == 0)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(), OK),
    (dict(y=["a"] * 4), (TypeError, "y")),
    (dict(y=[9] * 4), (ValueError, "y")),
    (dict(y=[0]), (ValueError, "y")),
    (dict(y=[1, True, 0, 0]), (TypeError, "y")),
    (dict(x="nan"), (ValueError, "x")),
    (dict(x="text"), (TypeError, "x")),
    (dict(batch_size=0), (ValueError, "batch_size")),
    (dict(model=None), (TypeError, "model")),
], ids=lambda v: str(v)[:40] if isinstance(v, dict) else None)
def test_sanity_explainer_arguments(convnet, kwargs, expected):
    model, x, y = convnet
    args = dict(model=model, x=x, y=y)
    args.update(kwargs)
    if isinstance(args["x"], str):
        args["x"] = {"nan": x * np.nan, "text": "abc"}[args["x"]]
    check_case(lambda: explainers.get("gradient")(**args), expected, [model])


# --- vis.metrics ----------------------------------------------------------------------------------

CHEAP = {"deletion": dict(steps=2), "insertion": dict(steps=2), "pixel_flipping": dict(steps=2),
         "faithfulness_correlation": dict(samples=3, subset_size=4), "infidelity": dict(samples=2),
         "max_sensitivity": dict(samples=2), "avg_sensitivity": dict(samples=2)}
WORK = {"deletion": "steps", "insertion": "steps", "pixel_flipping": "steps",
        "faithfulness_correlation": "samples", "infidelity": "samples",
        "max_sensitivity": "samples", "avg_sensitivity": "samples"}


def _metric_call(name, model, x, y, maps, true_masks, **kwargs):
    metric = vis.metrics.get(name)
    fn = metric.fn
    options = {**CHEAP.get(name, {}), **kwargs}
    targets = options.pop("targets", y)
    inputs = options.pop("inputs", x)
    if metric.needs == "maps":
        return lambda: fn(options.pop("attributions", maps), **options)
    if metric.needs == "masks":
        return lambda: fn(options.pop("attributions", maps), options.pop("masks", true_masks),
                          **options)
    if metric.needs == "method":
        return lambda: fn(model, inputs, targets, options.pop("method", "gradient"), **options)
    return lambda: fn(model, inputs, options.pop("attributions", "gradient"), targets, **options)


def _metric_cases():
    cases = []
    for name in vis.metrics.names():
        needs = vis.metrics.get(name).needs
        table = [("ok", {}, OK), ("maps_nan", dict(attributions="nan"),
                                  (ValueError, "attributions"))]
        if needs in ("model", "method"):
            table += [("targets_bool_in_list", dict(targets=[1, True, 0, 0]), (TypeError, "targets")),
                      ("inputs_nan", dict(inputs="nan"), (ValueError, "inputs")),
                      ("batch_size_0", dict(batch_size=0), (ValueError, "batch_size"))]
        if name in WORK:
            table += [("absurd_work", {WORK[name]: 10**12}, (ValueError, WORK[name])),
                      ("zero_work", {WORK[name]: 0}, (ValueError, WORK[name]))]
        if needs == "model" and name != "infidelity":
            table += [("baseline_black", dict(baseline="black"), (ValueError, "baseline")),
                      ("baseline_raises", dict(baseline=_boom), (ValueError, "baseline")),
                      ("baseline_nan", dict(baseline=lambda a: a * np.nan), (ValueError, "baseline"))]
        if needs == "masks":
            table += [("masks_shape", dict(masks="shape"), (ValueError, "masks")),
                      ("masks_float", dict(masks="float"), (ValueError, "masks"))]
        if name in ("infidelity", "faithfulness_correlation", "max_sensitivity"):
            table += [("seed_str", dict(seed="abc"), (ValueError, "seed")),
                      ("seed_negative", dict(seed=-3), (ValueError, "seed"))]
        if needs == "method":
            table += [("method_maps", dict(method="maps"), (TypeError, "method"))]
        cases += [pytest.param(name, kwargs, expected, id=f"{name}-{case}")
                  for case, kwargs, expected in table]
    return cases


@pytest.fixture(scope="module")
def maps_and_masks(convnet):
    model, x, y = convnet
    maps = vis.explain(model, x, "gradient", y)[..., 0]
    masks = np.zeros(maps.shape, bool)
    masks[:, :3] = True
    return maps, masks


@pytest.mark.parametrize("name, kwargs, expected", _metric_cases())
def test_every_metric(convnet, maps_and_masks, name, kwargs, expected):
    model, x, y = convnet
    maps, masks = maps_and_masks
    kwargs = dict(kwargs)
    needs = vis.metrics.get(name).needs
    if kwargs.get("attributions") == "nan":
        kwargs["attributions"] = np.where(maps > np.median(maps), np.nan, maps)
        if needs == "method":  # a method that returns NaN maps
            kwargs.pop("attributions")
            kwargs["method"] = lambda m, a, t, **o: np.full(a.shape, np.nan)
            expected = (ValueError, None)
        elif needs == "model":
            kwargs["attributions"] = kwargs["attributions"][..., None]
    if kwargs.get("inputs") == "nan":
        kwargs["inputs"] = x * np.nan
    if kwargs.get("method") == "maps":
        kwargs["method"] = maps
    if isinstance(kwargs.get("masks"), str):
        kwargs["masks"] = {"shape": masks[:, :2], "float": masks * 0.5}[kwargs["masks"]]
    call = _metric_call(name, model, x, y, maps, masks, **kwargs)
    check_case(call, expected, [model], degenerate_ok=True)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(), OK),
    (dict(methods=["bogus"]), (ValueError, "method")),
    (dict(metrics=["bogus"]), (ValueError, "metric")),
    (dict(seed="abc"), (ValueError, "seed")),
    (dict(seed=-3), (ValueError, "seed")),
    (dict(batch_size=0), (ValueError, "batch_size")),
    (dict(verbose="yes"), (TypeError, "verbose")),
    (dict(progress=3), (TypeError, "progress")),
    (dict(progress=_boom), (ValueError, "progress")),
    (dict(method_options={"gradient": 3}), (TypeError, "method_options")),
    (dict(method_options={"ig": {}}), (ValueError, "method_options")),
    (dict(targets=[1, True, 0, 0]), (TypeError, "targets")),
    (dict(inputs="nan"), (ValueError, "inputs")),
    (dict(bogus=1), (TypeError, "bogus")),
    (dict(metrics=["pointing_game"]), (ValueError, "masks")),
], ids=lambda v: str(v)[:40] if isinstance(v, dict) else None)
def test_evaluate(convnet, kwargs, expected):
    model, x, y = convnet
    args = dict(model=model, inputs=x, targets=y, methods=["gradient"], metrics=["sparseness"])
    args.update(kwargs)
    if isinstance(args["inputs"], str):
        args["inputs"] = x * np.nan
    check_case(lambda: vis.evaluate(**args), expected, [model], degenerate_ok=True)


def test_model_of_another_kind_is_refused_everywhere():
    """A layer, a path or None for `model`: a TypeError naming `model`, never AttributeError."""
    layer = keras.layers.Dense(2)
    x = np.ones((2, 4), "float32")
    calls = (lambda m: vis.explain(m, x), lambda m: vis.evaluate(m, x, 0),
             lambda m: vis.metrics.deletion(m, x, "gradient", 0),
             lambda m: model_randomization_test(m, x, [0, 0], "gradient", **QUICK))
    for bad in (None, "model.keras", layer):
        for call in calls:
            with pytest.raises(TypeError, match="`model`"):
                call(bad)
