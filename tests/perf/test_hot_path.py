"""The hot path: built-in post-processing inside the compiled function, equal to the NumPy path."""

import warnings

import keras
import numpy as np
import pytest

import vis
from vis import engine, grad_modifiers
from vis.errors import ZeroMapWarning
from vis.losses import ActivationMaximization
from vis.methods.gradient import gradient_of
from vis.visualization import visualize_saliency
from vis.visualization._postprocess import GraphFinish, finish, finish_inputs, graph_finish

BUILTINS = ["absolute", "square", "negate", "relu", "invert", "small_values", "linear", None]


def conv_model(data_format="channels_last", seed=0):
    keras.utils.set_random_seed(seed)
    shape = (6, 6, 3) if data_format == "channels_last" else (3, 6, 6)
    inp = keras.Input(shape)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv",
                            data_format=data_format)(inp)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(5, activation="softmax", name="out")(h)
    return keras.Model(inp, out)


def numpy_reference(model, x, index, modifier, keepdims, normalize, wrt=None,
                    backprop_modifier=None):
    """What the keras-vis functions computed before the hot path: raw gradient, then NumPy."""
    batch = vis.inputs.prepare(model, x, "seed_input")
    losses = [(ActivationMaximization(-1, index), 1.0)]
    raw = gradient_of(model, losses, batch.value, wrt=wrt, modifier=backprop_modifier)
    if wrt is not None:
        copy = engine.get_copy(model)
        caxis = copy.channel_axis(copy.layer(wrt, "wrt_tensor")[1])
        return finish(raw, batch.single, modifier, keepdims, normalize, caxis)
    return finish_inputs(model, raw, batch, modifier, keepdims, normalize, "gradient map")


@pytest.mark.parametrize("modifier", BUILTINS)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("normalize", [True, False])
def test_equals_numpy_post_processing_exactly(modifier, keepdims, normalize):
    model = conv_model()
    x = np.random.default_rng(0).normal(size=(5, 6, 6, 3)).astype("float32")
    x[2] = 0.0  # dead ReLUs: an all-zero map (a warning, and zeros after normalization)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZeroMapWarning)
        fast = visualize_saliency(model, -1, 1, x, grad_modifier=modifier, keepdims=keepdims,
                                  normalize=normalize)
        slow = numpy_reference(model, x, 1, modifier, keepdims, normalize)
    assert fast.dtype == slow.dtype == np.float32
    np.testing.assert_array_equal(fast, slow)
    post = [k[4] for k in engine.get_copy(model).functions if k[0] == "gradients"]
    assert GraphFinish(modifier, keepdims, normalize, (-1,)) in post  # it ran in the graph


@pytest.mark.parametrize("modifier", ["absolute", "invert"])
def test_channels_first_wrt_layer_single_sample_and_guided(modifier):
    model = conv_model("channels_first", seed=3)
    x = np.random.default_rng(1).normal(size=(4, 3, 6, 6)).astype("float32")
    for kwargs in ({}, {"wrt": "conv"}, {"backprop_modifier": "guided"}):
        fast = visualize_saliency(model, -1, 2, x, grad_modifier=modifier,
                                  wrt_tensor=kwargs.get("wrt"),
                                  backprop_modifier=kwargs.get("backprop_modifier"))
        slow = numpy_reference(model, x, 2, modifier, False, True, **kwargs)
        assert fast.shape == (4, 6, 6)
        np.testing.assert_array_equal(fast, slow)
    one = visualize_saliency(model, -1, 2, x[1], grad_modifier=modifier)
    np.testing.assert_array_equal(one, numpy_reference(model, x[1], 2, modifier, False, True))


def test_two_inputs_each_with_its_own_channel_axis():
    keras.utils.set_random_seed(4)
    image = keras.Input((5, 5, 2), name="image")
    meta = keras.Input((3,), name="meta")
    h = keras.layers.Flatten()(keras.layers.Conv2D(3, 3, activation="relu")(image))
    h = keras.layers.Concatenate()([h, meta])
    model = keras.Model([image, meta], keras.layers.Dense(2, name="out")(h))
    rng = np.random.default_rng(2)
    x = {"image": rng.normal(size=(3, 5, 5, 2)).astype("float32"),
         "meta": rng.normal(size=(3, 3)).astype("float32")}
    fast = visualize_saliency(model, -1, 0, x)
    slow = numpy_reference(model, x, 0, "absolute", False, True)
    assert fast["image"].shape == (3, 5, 5) and fast["meta"].shape == (3, 3)
    for key in x:
        np.testing.assert_array_equal(fast[key], slow[key])


def test_callables_and_user_registered_names_stay_in_numpy():
    model = conv_model()
    x = np.random.default_rng(3).normal(size=(2, 6, 6, 3)).astype("float32")
    assert graph_finish(model, vis.inputs.prepare(model, x), np.abs, False, True) is None
    cube = visualize_saliency(model, -1, 0, x, grad_modifier=lambda g: g ** 3)
    np.testing.assert_array_equal(cube, numpy_reference(model, x, 0, lambda g: g ** 3, False,
                                                        True))
    original = grad_modifiers.get("absolute")
    grad_modifiers.register("absolute", lambda g: np.abs(g) + 1.0)  # replaces the built-in
    try:
        assert grad_modifiers.tensor_twin("absolute") is None
        shifted = visualize_saliency(model, -1, 0, x, normalize=False)
        assert shifted.min() >= 1.0
    finally:
        grad_modifiers.register("absolute", original)
    assert grad_modifiers.tensor_twin("absolute") is not None


def test_tensor_twins_equal_the_numpy_modifiers():
    g = np.random.default_rng(5).normal(size=(3, 50)).astype("float32")
    g[0, :10] = 0.0
    g[1, :5] = -0.0
    g[2, :5] = 1e-30
    for name in BUILTINS:
        twin = grad_modifiers.tensor_twin(name)
        got = keras.ops.convert_to_numpy(twin(keras.ops.convert_to_tensor(g)))
        np.testing.assert_array_equal(got, grad_modifiers.get(name)(g), err_msg=str(name))


def test_warnings_and_errors_match_the_numpy_path():
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(2, name="out")(inp))
    w = np.zeros((4, 2), "float32")
    w[:, 0] = [-1.0, -2.0, -3.0, -4.0]  # a negative gradient: 'relu' empties the map
    w[:, 1] = 1e25  # its square overflows float32
    model.get_layer("out").set_weights([w, np.zeros(2, "float32")])
    x = np.ones((2, 4), "float32")
    with pytest.warns(ZeroMapWarning, match=r"leaves an all-zero map for sample\(s\) \[0, 1\]"):
        maps = visualize_saliency(model, -1, 0, x, grad_modifier="relu")
    np.testing.assert_array_equal(maps, np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match="returned non-finite"):
        visualize_saliency(model, -1, 1, x, grad_modifier="square")
    model.get_layer("out").set_weights([np.zeros((4, 2), "float32"), np.zeros(2, "float32")])
    with pytest.warns(ZeroMapWarning, match="all zero for sample"):
        visualize_saliency(model, -1, 0, x)


def test_one_compiled_function_per_post_processing_and_no_retracing():
    model = conv_model()
    rng = np.random.default_rng(6)
    for n in (1, 3, 7):
        visualize_saliency(model, -1, n % 5, rng.normal(size=(n, 6, 6, 3)).astype("float32"))
    functions = engine.get_copy(model).functions
    assert len(functions) == 1
    (fn,) = functions.values()
    assert fn.experimental_get_tracing_count() == 1
    visualize_saliency(model, -1, 0, rng.normal(size=(2, 6, 6, 3)).astype("float32"),
                       keepdims=True)
    assert len(functions) == 2


def test_batch_size_chunks_give_the_same_maps():
    model = conv_model()
    x = np.random.default_rng(7).normal(size=(9, 6, 6, 3)).astype("float32")
    whole = visualize_saliency(model, -1, 3, x)
    np.testing.assert_array_equal(visualize_saliency(model, -1, 3, x, batch_size=4), whole)


def test_jit_compile_is_an_engine_option_and_a_cache_key():
    model = conv_model()
    x = np.random.default_rng(8).normal(size=(3, 6, 6, 3)).astype("float32")
    losses = [(ActivationMaximization(-1, 1), 1.0)]
    _, plain = engine.gradients(model, losses, x)
    _, xla = engine.gradients(model, losses, x, jit_compile=True)
    np.testing.assert_allclose(xla, plain, rtol=1e-4, atol=1e-6)
    with engine.options(jit_compile=True):
        maps = vis.explain(model, x, targets=1)
        assert engine.jit_default() is True
    assert engine.jit_default() is False
    np.testing.assert_allclose(maps, plain, rtol=1e-4, atol=1e-6)
    keys = [k for k in engine.get_copy(model).functions if k[0] == "gradients"]
    assert {k[-1] for k in keys} == {False, True}
    with pytest.raises(TypeError, match="jit_compile"):
        engine.gradients(model, losses, x, jit_compile="yes")


def test_default_explain_finds_the_predicted_class_in_the_gradient_pass():
    model = conv_model()
    x = np.random.default_rng(9).normal(size=(16, 6, 6, 3)).astype("float32")
    predicted = vis.methods.resolve_targets(model, x, None)
    assert len(set(predicted.tolist())) > 1
    np.testing.assert_array_equal(vis.explain(model, x), vis.explain(model, x, targets=predicted))
    np.testing.assert_array_equal(vis.explain(model, x, batch_size=5),
                                  vis.explain(model, x, targets=predicted))
    keys = [k for k in engine.get_copy(model).functions if k[0] == "activations"]
    # only the explicit-target call above resolved the targets with a forward pass
    assert len(keys) == 1
    # ties go to the first unit, as NumPy's argmax
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    flat = keras.Model(inp, keras.layers.Dense(3, name="d")(inp))
    w = np.zeros((4, 3), "float32")
    w[0, 0] = w[1, 1] = 1.0  # classes 0 and 1 tie on x, with different gradients
    flat.get_layer("d").set_weights([w, np.zeros(3, "float32")])
    xs = np.array([[1, 1, 0, 0], [2, 2, 5, 5]], "float32")
    np.testing.assert_array_equal(vis.explain(flat, xs), np.tile([1, 0, 0, 0], (2, 1)))
    # a convolutional output (its score is a spatial mean): the two-pass path
    conv_out = keras.Model(model.inputs, model.get_layer("conv").output)
    np.testing.assert_array_equal(
        vis.explain(conv_out, x[:3]),
        vis.explain(conv_out, x[:3], targets=vis.methods.resolve_targets(conv_out, x[:3], None)))
