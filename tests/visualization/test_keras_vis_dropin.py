"""keras-vis idioms, written as keras-vis users write them, give keras-vis' numbers (issue 17)."""

import keras
import numpy as np
import pytest
from helpers_models import dense_linear

from vis.losses import ActivationMaximization
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

EPS = 1e-7


def _kv_normalize(a):  # keras-vis' utils.normalize
    return (a - a.min()) / (a.max() - a.min() + EPS)


def _conv_model(seed=0, gray=False, dtype="float32", extra=()):
    keras.utils.set_random_seed(seed)
    shape = (8, 8) if gray else (8, 8, 1)
    inp = keras.Input(shape, dtype=dtype, name="image")
    h = keras.layers.Reshape((8, 8, 1))(inp) if gray else inp
    if dtype == "uint8":
        h = keras.layers.Rescaling(1 / 255.0, name="rescale")(h)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(h)
    for layer in extra:
        h = layer(h)
    h = keras.layers.MaxPooling2D(name="pool")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    out = keras.layers.Dense(3, activation="softmax", name="preds")(h)
    return keras.Model(inp, out)


# --- vis.utils.utils --------------------------------------------------------------------------


def test_vis_utils_utils_is_keras_vis_module(tmp_path):
    from PIL import Image

    from vis.utils import utils

    model = _conv_model()
    assert utils.find_layer_idx(model, "preds") == len(model.layers) - 1
    assert utils.apply_modifications(model) is model
    assert utils.get_num_filters(model.get_layer("conv")) == 4
    assert utils.get_num_filters(model.get_layer("preds")) == 3
    img = np.arange(2 * 3 * 3, dtype="uint8").reshape(2, 3, 3)
    np.testing.assert_array_equal(utils.bgr2rgb(img), img[..., ::-1])
    a = np.array([2.0, 4.0, 6.0])
    np.testing.assert_allclose(utils.normalize(a, 10, 20), 10 * (a - 2) / (4 + EPS) + 10)
    np.testing.assert_allclose(utils.normalize(np.full(3, 5.0)), 0.0)
    x = np.random.default_rng(0).normal(size=(4, 4, 3)).astype("float32")
    ref = np.clip((x - x.mean()) / (x.std() + EPS) * 0.1 + 0.5, 0, 1) * 255
    np.testing.assert_allclose(utils.deprocess_input(x), ref, rtol=1e-5, atol=1e-4)
    x_before = x.copy()
    utils.deprocess_input(x, (0, 1))
    np.testing.assert_array_equal(x, x_before)  # not modified
    rgb = np.random.default_rng(1).integers(0, 256, (10, 12, 3)).astype("uint8")
    Image.fromarray(rgb).save(tmp_path / "img.png")
    loaded = utils.load_img(str(tmp_path / "img.png"))
    np.testing.assert_array_equal(loaded, rgb)
    small = utils.load_img(str(tmp_path / "img.png"), target_size=(5, 6))
    assert small.shape == (5, 6, 3) and small.dtype == np.uint8
    assert utils.load_img(str(tmp_path / "img.png"), grayscale=True).shape == (10, 12)
    with pytest.raises(ValueError, match="No|not found"):
        utils.find_layer_idx(model, "nope")


# --- the loss-weight convention and model.input -----------------------------------------------


@pytest.mark.parametrize("grad_modifier", [None, "relu", "negate", "absolute", "small_values"])
def test_saliency_with_losses_follows_keras_vis_sign(grad_modifier):
    """keras-vis: d(sum w * loss)/dx, AM = -activation, weight -1 -> +d out / dx."""
    from vis import grad_modifiers

    model, W, _ = dense_linear()
    x = np.random.default_rng(0).normal(size=(1, 5)).astype("float32")
    losses = [(ActivationMaximization(model.layers[-1], 1), -1)]
    got = visualize_saliency_with_losses(model.input, losses, x, grad_modifier=grad_modifier)
    grads = grad_modifiers.get(grad_modifier)(W[:, 1][None].astype("float32"))
    expected = _kv_normalize(grads)[0]
    assert got.shape == (5,)  # a batch of one: one map
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    if grad_modifier is None:
        assert np.corrcoef(got, W[:, 1])[0, 1] > 0.999
    # the model and the idiom give the same map, also via visualize_saliency
    np.testing.assert_allclose(
        visualize_saliency_with_losses(model, losses, x, grad_modifier=grad_modifier), got)
    np.testing.assert_allclose(
        visualize_saliency(model, -1, 1, x, grad_modifier=grad_modifier), got)


def test_model_input_idiom_names_layers_and_caches_the_model():
    from vis.visualization import _keras_vis

    model = _conv_model()
    x = np.random.default_rng(1).uniform(size=(2, 8, 8, 1)).astype("float32")
    by_name = visualize_saliency_with_losses(model.input, [(ActivationMaximization("preds", 0),
                                                            -1)], x)
    by_layer = visualize_saliency_with_losses(
        model.input, [(ActivationMaximization(model.layers[-1], 0), -1)], x)
    np.testing.assert_allclose(by_name, by_layer)
    np.testing.assert_allclose(by_layer, visualize_saliency(model, -1, 0, x))
    losses = [(ActivationMaximization(model.layers[-1], 0), -1)]
    assert _keras_vis.as_model(model.input, losses) is _keras_vis.as_model(model.input, losses)
    with pytest.raises(TypeError, match="layer object"):
        visualize_saliency_with_losses(model.input, [(ActivationMaximization(-1, 0), -1)], x)
    with pytest.raises(TypeError, match="input tensor"):
        visualize_saliency_with_losses("model", losses, x)


def test_cam_with_losses_matches_visualize_cam():
    model = _conv_model()
    x = np.random.default_rng(2).uniform(size=(3, 8, 8, 1)).astype("float32")
    losses = [(ActivationMaximization(model.layers[-1], 2), -1)]
    got = visualize_cam_with_losses(model.input, losses, x, model.get_layer("conv"))
    np.testing.assert_allclose(got, visualize_cam(model, -1, 2, x, penultimate_layer_idx="conv"),
                               atol=1e-6)
    one = visualize_cam_with_losses(model.input, losses, x[:1], model.get_layer("conv"))
    assert one.shape == (8, 8)


# --- a batch of one gives one map ---------------------------------------------------------------


@pytest.mark.parametrize("fn", [visualize_saliency, visualize_cam, visualize_smoothgrad,
                                visualize_integrated_gradients, visualize_gradient_x_input])
def test_batch_of_one_and_one_sample_give_one_map(fn):
    model = _conv_model()
    x = np.random.default_rng(3).uniform(size=(2, 8, 8, 1)).astype("float32")
    kwargs = {"seed": 0} if fn is visualize_smoothgrad else {}
    a = fn(model, -1, 0, x[0], **kwargs)
    b = fn(model, -1, 0, x[:1], **kwargs)
    assert a.shape == b.shape == (8, 8)
    np.testing.assert_allclose(a, b)
    assert fn(model, -1, 0, x, **kwargs).shape == (2, 8, 8)


# --- grad modifiers: keras-vis' formulas ---------------------------------------------------------


def test_small_values_and_invert_are_keras_vis_formulas():
    from vis import grad_modifiers

    g = np.array([-3e-7, -2e-8, 0.0, 5e-8, 0.5, -2.0], "float32")
    np.testing.assert_array_equal(grad_modifiers.get("invert")(g), 1.0 / (g + np.float32(EPS)))
    np.testing.assert_array_equal(grad_modifiers.get("small_values")(g),
                                  np.abs(1.0 / (g + np.float32(EPS))))


# --- visualize_activation: keras-vis' optimizer, step for step ---------------------------------


def _kv_tv(x):  # keras-vis TotalVariation(beta=2) for (1, H, W, C), divided by the sample size
    a = (x[:, 1:, :-1] - x[:, :-1, :-1]) ** 2
    b = (x[:, :-1, 1:] - x[:, :-1, :-1]) ** 2
    return float(np.sum(a + b)) / x[0].size


def _numeric_grad(f, x, h=1e-4):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


def test_regularizers_values_and_gradients():
    from vis.regularizers import LPNorm, TotalVariation

    x = np.random.default_rng(4).normal(size=(1, 4, 5, 2))
    tv = TotalVariation()
    v, g = tv.value_and_grad(x, (1, 2))
    assert v[0] == pytest.approx(_kv_tv(x))
    np.testing.assert_allclose(g, _numeric_grad(lambda z: tv.value_and_grad(z, (1, 2))[0][0], x),
                               rtol=1e-5, atol=1e-8)
    tv3 = TotalVariation(beta=3.0)
    np.testing.assert_allclose(tv3.value_and_grad(x, (1, 2))[1], _numeric_grad(
        lambda z: tv3.value_and_grad(z, (1, 2))[0][0], x), rtol=1e-4, atol=1e-7)
    lp = LPNorm(p=6.0)
    v, g = lp.value_and_grad(x, (1, 2))
    assert v[0] == pytest.approx(np.sum(np.abs(x) ** 6) ** (1 / 6) / x[0].size)
    np.testing.assert_allclose(g, _numeric_grad(lambda z: lp.value_and_grad(z, (1, 2))[0][0], x),
                               rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="`p`"):
        LPNorm(p=0.5)


def _kv_activation(model, k, seed, max_iter, input_range, weights=(1, 10, 10)):
    """keras-vis' Optimizer.minimize on a model whose AM gradient is linear: -W[:, k]."""
    W = model.get_layer("out").get_weights()[0]
    x = seed[None].astype("float32")
    act_w, lp_w, tv_w = weights
    cache, best_loss, best = None, np.inf, None
    for _ in range(max_iter):
        flat = x.reshape(1, -1).astype("float64")
        am = -float((flat @ W[:, k])[0] + model.get_layer("out").get_weights()[1][k])
        s = np.sum(np.abs(flat) ** 6)
        lp = s ** (1 / 6) / flat.size
        g_lp = s ** (1 / 6 - 1) * np.abs(flat) ** 5 * np.sign(flat) / flat.size
        xx = x.astype("float64")
        a = xx[:, 1:, :-1] - xx[:, :-1, :-1]
        b = xx[:, :-1, 1:] - xx[:, :-1, :-1]
        g_tv = np.zeros_like(xx)
        g_tv[:, 1:, :-1] += 2 * a
        g_tv[:, :-1, 1:] += 2 * b
        g_tv[:, :-1, :-1] -= 2 * (a + b)
        g_tv /= flat.size
        overall = act_w * am + lp_w * lp + tv_w * _kv_tv(xx)
        grads = (act_w * -W[:, k]).reshape(x.shape) + lp_w * g_lp.reshape(x.shape) + tv_w * g_tv
        grads = grads / (np.sqrt(np.mean(grads**2)) + EPS)
        cache = (np.zeros_like(grads) if cache is None else cache) * 0.95 + 0.05 * grads**2
        x = (x - grads / np.sqrt(cache + EPS)).astype("float32")
        if overall < best_loss:
            best_loss, best = overall, x.copy()
    from vis.utils.utils import deprocess_input

    return deprocess_input(best[0], input_range)


def _image_dense_model(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((4, 4, 1))
    out = keras.layers.Dense(3, name="out")(keras.layers.Flatten()(inp))
    return keras.Model(inp, out)


@pytest.mark.parametrize("input_range", [(0.0, 1.0), (0, 255)])
def test_activation_is_keras_vis_optimizer_step_for_step(input_range):
    model = _image_dense_model()
    seed = np.random.default_rng(5).uniform(0.3, 0.7, (4, 4, 1)).astype("float32")
    got = visualize_activation(model, -1, 2, seed_input=seed, input_range=input_range,
                               max_iter=12)
    ref = _kv_activation(model, 2, seed, 12, input_range)
    if isinstance(input_range[0], int):
        assert got.dtype == np.uint8
        ref = np.clip(ref, *input_range).astype("uint8")
        assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1
    else:
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    # the same through visualize_activation_with_losses(model.input, ...)
    from vis.regularizers import LPNorm, TotalVariation

    losses = [(ActivationMaximization(model.layers[-1], 2), 1),
              (LPNorm(model.input), 10), (TotalVariation(model.input), 10)]
    same = visualize_activation_with_losses(model.input, losses, seed_input=seed,
                                            input_range=input_range, max_iter=12)
    np.testing.assert_array_equal(same, got)


def test_activation_keras_vis_options():
    from vis.callbacks import OptimizerCallback
    from vis.input_modifiers import Jitter, Rotate2D, Scale

    class Record(OptimizerCallback):
        def __init__(self):
            self.calls, self.ended = [], 0

        def callback(self, i, named_losses, overall_loss, grads, wrt_value):
            self.calls.append((i, [n for n, _ in named_losses], overall_loss))

        def on_end(self):
            self.ended += 1

    model = _conv_model()
    record = Record()
    img = visualize_activation(model, "preds", filter_indices=None, max_iter=4,
                               input_modifiers=[Jitter(2, seed=0), Rotate2D(5.0, seed=0),
                                                Scale(0.9, 1.1, seed=0)],
                               callbacks=[record], grad_modifier="absolute", tv_weight=5,
                               lp_norm_weight=None, seed=0)
    assert img.shape == (8, 8, 1) and img.dtype == np.uint8  # default input_range (0, 255)
    assert [c[0] for c in record.calls] == [0, 1, 2, 3] and record.ended == 1
    assert record.calls[0][1] == ["activation_maximization", "TV(2) Loss"]
    a = visualize_activation(model, "conv", [0, 1], max_iter=3, seed=3, input_range=(0.0, 1.0))
    b = visualize_activation(model, "conv", [0, 1], max_iter=3, seed=3, input_range=(0.0, 1.0))
    np.testing.assert_array_equal(a, b)


def test_activation_verbose_prints_losses(capsys):
    model = _conv_model()
    visualize_activation(model, -1, 0, max_iter=2, verbose=True, seed=0)
    out = capsys.readouterr().out
    assert out.count("Iteration:") == 2 and "overall loss" in out


# --- default Grad-CAM layer ----------------------------------------------------------------------


@pytest.mark.parametrize("extra, expected", [
    ((), "conv"),
    ((keras.layers.BatchNormalization(name="bn"), keras.layers.ReLU(name="relu")), "relu"),
    ((keras.layers.Dropout(0.2, name="drop"),), "drop"),
])
def test_default_cam_layer_rule(extra, expected):
    from vis.utils.model import find_last_conv_layer

    model = _conv_model(extra=extra)
    assert find_last_conv_layer(model) == expected


def test_default_cam_layer_skips_dropout_after_pooling():
    from vis.utils.model import find_last_conv_layer

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, name="conv")(inp)
    h = keras.layers.MaxPooling2D(name="pool")(h)
    h = keras.layers.Dropout(0.3, name="drop")(h)
    out = keras.layers.Dense(2, name="out")(keras.layers.Flatten()(h))
    model = keras.Model(inp, out)
    assert find_last_conv_layer(model) == "conv"
    assert visualize_cam(model, -1, 0, np.ones((8, 8, 1), "float32")).shape == (8, 8)


# --- grayscale and integer models ------------------------------------------------------------------


def test_grayscale_model_maps_and_cam():
    import vis

    gray = _conv_model(gray=True)
    color = _conv_model(seed=1)
    color.set_weights(gray.get_weights())
    x = np.random.default_rng(6).uniform(size=(2, 8, 8)).astype("float32")
    for fn in (visualize_saliency, visualize_cam, visualize_gradient_x_input):
        g = fn(gray, -1, 0, x)
        assert g.shape == (2, 8, 8)
        np.testing.assert_allclose(g, fn(color, -1, 0, x[..., None]), atol=1e-6)
    assert vis.explain(gray, x, "gradcam", 0).shape == (2, 8, 8)
    with pytest.raises(ValueError, match=r"x\[\.\.\., None\]"):
        visualize_saliency(color, -1, 0, x)


def test_uint8_image_model_every_keras_vis_function_and_explain():
    import vis

    u8 = _conv_model(dtype="uint8")
    f32 = _conv_model(seed=1)
    f32.set_weights(u8.get_weights())
    x = np.random.default_rng(7).integers(0, 256, (2, 8, 8, 1)).astype("uint8")
    xf = x.astype("float32") / 255.0
    np.testing.assert_allclose(visualize_saliency(u8, -1, 0, x, grad_modifier=None),
                               visualize_saliency(f32, -1, 0, xf, grad_modifier=None), atol=1e-5)
    np.testing.assert_allclose(visualize_cam(u8, -1, 0, x), visualize_cam(f32, -1, 0, xf),
                               atol=1e-5)
    for fn in (visualize_smoothgrad, visualize_integrated_gradients, visualize_gradient_x_input):
        kwargs = {"seed": 0, "samples": 8} if fn is visualize_smoothgrad else {}
        maps = fn(u8, -1, 0, x, **kwargs)
        assert maps.shape == (2, 8, 8) and np.all(np.isfinite(maps))
    for method in ("gradient", "gradcam", "integrated_gradients", "smoothgrad",
                   "gradient_x_input", "guided_backprop"):
        maps = vis.explain(u8, x, method, 0)
        assert np.all(np.isfinite(maps)) and len(maps) == 2
    with pytest.raises(ValueError, match="integers"):
        visualize_activation(u8, -1, 0, max_iter=2)


# --- refused inputs --------------------------------------------------------------------------------


def test_one_hot_filter_indices_are_refused():
    model = _conv_model()
    x = np.zeros((2, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match="per_sample"):
        visualize_saliency(model, -1, np.eye(3, dtype=int)[[0, 2]], x)


@pytest.mark.parametrize("kwargs", [dict(keepdims="yes"), dict(normalize=1)])
def test_boolean_options_are_checked(kwargs):
    model = _conv_model()
    with pytest.raises(TypeError, match="True or False"):
        visualize_saliency(model, -1, 0, np.zeros((8, 8, 1), "float32"), **kwargs)
    with pytest.raises(TypeError, match="True or False"):
        visualize_cam(model, -1, 0, np.zeros((8, 8, 1), "float32"), **kwargs)


def test_shared_layer_is_refused_by_name():
    import vis

    inp = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    out = keras.layers.Dense(2, name="out")(shared(shared(inp)))
    model = keras.Model(inp, out)
    x = np.ones((2, 4), "float32")
    assert visualize_saliency(model, -1, 0, x).shape == (2, 4)
    with pytest.raises(ValueError, match="shared layer"):
        visualize_saliency(model, "shared", 0, x)
    with pytest.raises(ValueError, match="shared layer"):
        vis.explain(model, x, "gradient", 0, output="shared")


# --- a stale copy after a non-weight change ---------------------------------------------------


def test_architecture_change_in_place_is_seen():
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    h = keras.layers.Dense(3, activation="relu", name="h")(inp)
    model = keras.Model(inp, keras.layers.Dense(2, name="o")(h))
    x = np.random.default_rng(8).normal(size=(3, 4)).astype("float32")
    before = visualize_saliency(model, -1, 0, x, grad_modifier=None, normalize=False)
    model.get_layer("h").activation = keras.activations.linear
    after = visualize_saliency(model, -1, 0, x, grad_modifier=None, normalize=False)
    W1, W2 = model.get_layer("h").get_weights()[0], model.get_layer("o").get_weights()[0]
    np.testing.assert_allclose(after, np.tile(W1 @ W2[:, 0], (3, 1)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(before, after)
