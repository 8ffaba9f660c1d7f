"""The keras-vis API (`vis.visualization`): bad arguments and user callables of every function."""

import keras
import numpy as np
import pytest

from fuzz.fuzz_helpers import OK, check_case
from vis.input_modifiers import InputModifier, Jitter, Rotate2D, Scale
from vis.losses import ActivationMaximization, Loss, per_sample
from vis.regularizers import InputRegularizer, LPNorm, TotalVariation
from vis.visualization import (
    visualize_activation,
    visualize_activation_with_losses,
    visualize_cam,
    visualize_cam_with_losses,
    visualize_gradient_x_input,
    visualize_integrated_gradients,
    visualize_saliency,
    visualize_saliency_with_losses,
    visualize_smoothgrad,
)

CHEAP = {visualize_smoothgrad: dict(samples=2, seed=0), visualize_integrated_gradients: dict(steps=2)}
MAPS = [visualize_saliency, visualize_cam, visualize_gradient_x_input,
        visualize_integrated_gradients, visualize_smoothgrad]


def _boom(grads):
    raise RuntimeError("boom")


BAD = [
    ("ok", {}, OK),
    ("model_none", {"model": None}, (TypeError, "model")),
    ("model_path", {"model": "model.keras"}, (TypeError, "model")),
    ("filter_bool_in_list", {"filter_indices": [1, True]}, (TypeError, "filter_indices")),
    ("filter_float", {"filter_indices": 1.0}, (TypeError, "filter_indices")),
    ("filter_out_of_range", {"filter_indices": 3}, (ValueError, "filter_indices")),
    ("per_sample_bool", {"filter_indices": "per_sample_bool"}, (TypeError, "per_sample")),
    ("seed_input_nan", {"seed_input": "nan"}, (ValueError, "seed_input")),
    ("seed_input_shape", {"seed_input": "shape"}, (ValueError, "seed_input")),
    ("seed_input_text", {"seed_input": "text"}, (TypeError, "seed_input")),
    ("grad_modifier_nan", {"grad_modifier": lambda g: g * np.nan}, (ValueError, "grad_modifier")),
    ("grad_modifier_scalar", {"grad_modifier": lambda g: 1.0}, (ValueError, "grad_modifier")),
    ("grad_modifier_none", {"grad_modifier": lambda g: None}, (ValueError, "grad_modifier")),
    ("grad_modifier_raises", {"grad_modifier": _boom}, (ValueError, "grad_modifier")),
    ("grad_modifier_unknown", {"grad_modifier": "bogus"}, (ValueError, "grad_modifier")),
    ("backprop_modifier_int", {"backprop_modifier": 3}, (TypeError, "backprop_modifier")),
    ("normalize_str", {"normalize": "yes"}, (TypeError, "normalize")),
    ("layer_unknown", {"layer_idx": "zzz"}, (ValueError, "layer_idx")),
    ("layer_float", {"layer_idx": 1.5}, (TypeError, "layer_idx")),
    ("batch_size_0", {"batch_size": 0}, (ValueError, "batch_size")),
]


@pytest.mark.parametrize("fn, case, kwargs, expected", [
    pytest.param(fn, case, kwargs, expected, id=f"{fn.__name__}-{case}")
    for fn in MAPS for case, kwargs, expected in BAD])
def test_map_functions(convnet, fn, case, kwargs, expected):
    model, x, _ = convnet
    args = dict(model=model, layer_idx=-1, filter_indices=0, seed_input=x, **CHEAP.get(fn, {}))
    if fn is visualize_cam and "grad_modifier" not in kwargs:
        args["grad_modifier"] = None
    kwargs = dict(kwargs)
    value = kwargs.get("seed_input")
    if isinstance(value, str):
        kwargs["seed_input"] = {"nan": np.where(x > 0.5, np.nan, x), "shape": x[:, :5],
                                "text": np.full((2, 6, 6, 1), "a")}[value]
    if kwargs.get("filter_indices") == "per_sample_bool":
        kwargs["filter_indices"] = None
        args["filter_indices"] = None
        check_case(lambda: per_sample([0, True, 1, 1]), expected, [model])
        return
    args.update(kwargs)
    check_case(lambda: fn(**args), expected, [model])


EXTRA = [
    ("smoothgrad_noise_str", visualize_smoothgrad, dict(noise="0.1"), (ValueError, "noise")),
    ("smoothgrad_noise_nan", visualize_smoothgrad, dict(noise=float("nan")), (ValueError, "noise")),
    ("smoothgrad_samples_huge", visualize_smoothgrad, dict(samples=10**12),
     (ValueError, "samples")),
    ("smoothgrad_kind", visualize_smoothgrad, dict(samples=2, kind="median"),
     (ValueError, "kind")),
    ("smoothgrad_seed_str", visualize_smoothgrad, dict(samples=2, seed="abc"),
     (ValueError, "seed")),
    ("ig_baseline_black", visualize_integrated_gradients, dict(baseline="black"),
     (ValueError, "baseline")),
    ("ig_baseline_raises", visualize_integrated_gradients, dict(baseline=_boom),
     (ValueError, "baseline")),
    ("ig_baseline_nan", visualize_integrated_gradients, dict(baseline=np.nan),
     (ValueError, "baseline")),
    ("ig_steps_1", visualize_integrated_gradients, dict(steps=1), (ValueError, "steps")),
    ("ig_steps_huge", visualize_integrated_gradients, dict(steps=10**12), (ValueError, "steps")),
    ("cam_method", visualize_cam, dict(method="bogus"), (ValueError, "method")),
    ("cam_guided_str", visualize_cam, dict(guided="yes"), (TypeError, "guided")),
    ("cam_penultimate_dense", visualize_cam, dict(penultimate_layer_idx="out"),
     (ValueError, "penultimate_layer_idx")),
    ("cam_guided_ok", visualize_cam, dict(guided=True), OK),
]


@pytest.mark.parametrize("fn, kwargs, expected", [
    pytest.param(fn, k, e, id=i) for i, fn, k, e in EXTRA])
def test_function_specific_options(convnet, fn, kwargs, expected):
    model, x, _ = convnet
    check_case(lambda: fn(model, -1, 0, x, **kwargs), expected, [model])


# --- activation maximization ---------------------------------------------------------------------

class NanRegularizer(InputRegularizer):
    def value_and_grad(self, x, spatial_axes):
        return np.full(len(x), np.nan), np.full(x.shape, np.nan)


class NoneRegularizer(InputRegularizer):
    def value_and_grad(self, x, spatial_axes):
        return None


class ShapeRegularizer(InputRegularizer):
    def value_and_grad(self, x, spatial_axes):
        return np.zeros(len(x)), np.zeros(3)


class NanModifier(InputModifier):
    def pre(self, inp):
        return inp * np.nan


class NoneModifier(InputModifier):
    def post(self, inp):
        return None


class CropModifier(InputModifier):
    def pre(self, inp):
        return inp[:, 1:]


class NanLoss(Loss):
    def __init__(self):
        self.layer = "out"

    def call(self, output, target, channel_axis=-1):
        return keras.ops.mean(output, axis=-1) * float("nan")


class Broken:
    def callback(self, *args):
        raise RuntimeError("callback failed")


R = (0.0, 1.0)
ACTIVATION = [
    ("ok", {}, OK),
    ("model_none", {"model": None}, (TypeError, "model")),
    ("model_str", {"model": "model.keras"}, (TypeError, "model")),
    ("max_iter_0", {"max_iter": 0}, (ValueError, "max_iter")),
    ("max_iter_float", {"max_iter": 2.5}, (ValueError, "max_iter")),
    ("max_iter_huge", {"max_iter": 10**8}, (ValueError, "max_iter")),
    ("lr_nan", {"lr": float("nan")}, (ValueError, "lr")),
    ("lr_str", {"lr": "1"}, (ValueError, "lr")),
    ("seed_str", {"seed": "abc"}, (ValueError, "seed")),
    ("seed_negative", {"seed": -3}, (ValueError, "seed")),
    ("input_range_reversed", {"input_range": (1, 0)}, (ValueError, "input_range")),
    ("input_range_none", {"input_range": None}, (ValueError, "input_range")),
    ("filter_bool_in_list", {"filter_indices": [1, True]}, (TypeError, "filter_indices")),
    ("act_max_weight_str", {"act_max_weight": "1"}, (ValueError, "act_max_weight")),
    ("tv_weight_nan", {"tv_weight": float("nan")}, (ValueError, "tv_weight")),
    ("all_weights_zero", {"act_max_weight": 0, "lp_norm_weight": 0, "tv_weight": None},
     (ValueError, "act_max_weight")),
    ("grad_modifier_nan", {"grad_modifier": lambda g: g * np.nan}, (ValueError, "grad_modifier")),
    ("grad_modifier_none", {"grad_modifier": lambda g: None}, (ValueError, "grad_modifier")),
    ("grad_modifier_scalar", {"grad_modifier": lambda g: 1.0}, (ValueError, "grad_modifier")),
    ("input_modifier_int", {"input_modifiers": [3]}, (TypeError, "input_modifiers")),
    ("input_modifier_nan", {"input_modifiers": [NanModifier()]}, (ValueError, "input_modifiers")),
    ("input_modifier_none", {"input_modifiers": [NoneModifier()]},
     (ValueError, "input_modifiers")),
    ("input_modifier_crop", {"input_modifiers": [CropModifier()]},
     (ValueError, "input_modifiers")),
    ("input_modifiers_ok", {"input_modifiers": [Jitter(1, seed=0), Rotate2D(5.0, seed=0),
                                                Scale(seed=0)]}, OK),
    ("callback_int", {"callbacks": [3]}, (TypeError, "callbacks")),
    ("callback_raises", {"callbacks": [Broken()]}, (ValueError, "callbacks")),
    ("verbose_str", {"verbose": "yes"}, (TypeError, "verbose")),
    ("unknown_option", {"bogus": 1}, (TypeError, None)),
    ("seed_input_nan", {"seed_input": np.full((6, 6, 1), np.nan)}, (ValueError, "seed_input")),
    ("wrt_tensor_layer", {"wrt_tensor": "conv"}, (ValueError, "wrt_tensor")),
]


@pytest.mark.parametrize("case, kwargs, expected", [
    pytest.param(c, k, e, id=c) for c, k, e in ACTIVATION])
def test_visualize_activation(convnet, case, kwargs, expected):
    model, _, _ = convnet
    args = dict(model=model, layer_idx=-1, filter_indices=0, input_range=R, max_iter=2, seed=0)
    args.update(kwargs)
    check_case(lambda: visualize_activation(**args), expected, [model])


def test_visualize_activation_on_a_subclassed_model():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3)
            self.flat = keras.layers.Flatten()
            self.out = keras.layers.Dense(3)

        def call(self, t):
            return self.out(self.flat(self.conv(t)))

    model = Net()
    model(np.zeros((1, 6, 6, 1), "float32"))
    check_case(lambda: visualize_activation(model, -1, 0, input_range=R, max_iter=2, seed=0),
               OK, [model])


WITH_LOSSES = [
    ("nan_regularizer", [(NanRegularizer(), 1)], (ValueError, "losses")),
    ("none_regularizer", [(NoneRegularizer(), 1)], (ValueError, "losses")),
    ("shape_regularizer", [(ShapeRegularizer(), 1)], (ValueError, "losses")),
    ("nan_loss", [(NanLoss(), 1)], (ValueError, None)),
    ("not_a_loss", [(3, 1)], (TypeError, "losses")),
    ("weight_str", [(LPNorm(), "1")], (ValueError, "losses")),
    ("ok", [(LPNorm(), 1), (TotalVariation(), 1)], OK),
]


@pytest.mark.parametrize("case, extra, expected", [
    pytest.param(c, k, e, id=c) for c, k, e in WITH_LOSSES])
def test_visualize_activation_with_losses(convnet, case, extra, expected):
    model, _, _ = convnet
    losses = [(ActivationMaximization(model.layers[-1], 0), 1)] + extra
    check_case(lambda: visualize_activation_with_losses(model.input, losses, input_range=R,
                                                        max_iter=2, seed=0), expected, [model])


@pytest.mark.parametrize("make, param", [
    (lambda: LPNorm(p="a"), "p"), (lambda: LPNorm(p=0.5), "p"),
    (lambda: TotalVariation(beta="a"), "beta"), (lambda: TotalVariation(beta=-1), "beta"),
    (lambda: Jitter("a"), "jitter"), (lambda: Jitter(-1), "jitter"),
    (lambda: Rotate2D("a"), "degree"), (lambda: Scale(2.0, 1.0), "low"),
    (lambda: Jitter(seed="abc"), "seed"),
])
def test_regularizer_and_modifier_arguments(make, param):
    with pytest.raises(ValueError) as info:
        make()
    assert f"`{param}`" in str(info.value)


@pytest.mark.parametrize("fn, kwargs, expected", [
    (visualize_saliency_with_losses, dict(input_tensor=None), (TypeError, "input_tensor")),
    (visualize_saliency_with_losses, dict(losses=[(1, 2)]), (TypeError, "losses")),
    (visualize_saliency_with_losses, dict(losses=[]), (TypeError, "losses")),
    (visualize_saliency_with_losses, dict(grad_modifier=lambda g: None),
     (ValueError, "grad_modifier")),
    (visualize_saliency_with_losses, {}, OK),
    (visualize_cam_with_losses, dict(penultimate_layer=3), (TypeError, "penultimate_layer")),
    (visualize_cam_with_losses, dict(grad_modifier=lambda g: g * np.inf),
     (ValueError, "grad_modifier")),
    (visualize_cam_with_losses, {}, OK),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
def test_with_losses_variants(convnet, fn, kwargs, expected):
    model, x, _ = convnet
    args = dict(input_tensor=model.input, losses=[(ActivationMaximization(model.layers[-1], 0), -1)],
                seed_input=x)
    if fn is visualize_cam_with_losses:
        args["penultimate_layer"] = model.get_layer("conv")
    args.update(kwargs)
    check_case(lambda: fn(**args), expected, [model])
