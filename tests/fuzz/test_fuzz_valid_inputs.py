"""Valid inputs the checks must not refuse (a strict check that refuses a valid idiom is a bug
too), and errors that must blame the right argument."""

import keras
import numpy as np
import pytest

import vis
from fuzz.fuzz_helpers import OK, check_case
from vis.sanity import data_randomization_test, explainers, model_randomization_test
from vis.visualization import (
    visualize_activation,
    visualize_activation_with_losses,
    visualize_cam,
    visualize_saliency,
)


def test_boolean_one_hot_labels_are_labels(convnet):
    model, x, y = convnet
    one_hot = np.eye(3, dtype=bool)[y]
    got = model_randomization_test(model, x, one_hot, "gradient", verbose=False,
                                   layers=["out"])
    want = model_randomization_test(model, x, y, "gradient", verbose=False, layers=["out"])
    np.testing.assert_allclose(got.scores["spearman_abs"], want.scores["spearman_abs"])
    with pytest.raises(TypeError, match="`y` must hold ints"):  # booleans as class indices
        model_randomization_test(model, x, np.array([True, False, True, False]), "gradient",
                                 verbose=False)


@pytest.mark.parametrize("weight", [np.array(1.0), np.float32(1.0), "tensor"])
def test_zero_d_arrays_and_scalar_tensors_are_numbers(convnet, weight):
    model, _, _ = convnet
    weight = keras.ops.convert_to_tensor(1.0) if isinstance(weight, str) else weight
    a = check_case(lambda: visualize_activation(model, -1, 1, max_iter=3, seed=0,
                                                act_max_weight=weight), OK, [model])
    b = visualize_activation(model, -1, 1, max_iter=3, seed=0, act_max_weight=1.0)
    np.testing.assert_array_equal(a, b)
    from vis.losses import ActivationMaximization

    check_case(lambda: visualize_activation_with_losses(
        model, [(ActivationMaximization(-1, 1), weight)], max_iter=3, seed=0), OK, [model])


def test_reinitialize_may_return_a_generator(convnet):
    model, x, y = convnet

    def as_list(layer):
        rng = np.random.default_rng(0)
        return [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]

    def as_generator(layer):
        return (w for w in as_list(layer))

    got = model_randomization_test(model, x, y, "gradient", verbose=False, layers=["out"],
                                   reinitialize=as_generator)
    want = model_randomization_test(model, x, y, "gradient", verbose=False, layers=["out"],
                                    reinitialize=as_list)
    np.testing.assert_allclose(got.scores["spearman_abs"], want.scores["spearman_abs"])


def test_sanity_explainers_take_whole_number_float_labels(convnet):
    model, x, y = convnet
    explain = explainers.get("gradient")
    np.testing.assert_array_equal(explain(model, x, y.astype("float64")), explain(model, x, y))
    with pytest.raises(TypeError, match="`y`"):
        explain(model, x, y + 0.5)


@pytest.mark.parametrize("visualize", [visualize_saliency, visualize_cam])
def test_a_ragged_grad_modifier_output_is_named(convnet, visualize):
    model, x, _ = convnet
    check_case(lambda: visualize(model, -1, 1, x, grad_modifier=lambda g: [g[0], g[1][:1]]),
               (ValueError, "grad_modifier"), [model])


@pytest.mark.parametrize("level", [0, 1, 2, True, False])
def test_keras_verbosity_levels_are_accepted(convnet, level):
    model, x, y = convnet
    report = vis.evaluate(model, x, y, methods=["gradient"], metrics=["sparseness"],
                          verbose=level)
    assert "gradient" in report.to_markdown()


@pytest.mark.parametrize("level", [3, -1, "yes", 1.0])
def test_other_verbosity_values_are_refused(convnet, level):
    model, x, y = convnet
    check_case(lambda: vis.evaluate(model, x, y, methods=["gradient"], metrics=["sparseness"],
                                    verbose=level), (TypeError, "verbose"), [model])


def test_a_failing_fit_blames_build_model_without_fit_kwargs(convnet):
    _, x, y = convnet

    def build():
        m = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
        m.compile("adam", "categorical_crossentropy")  # integer labels: fit fails
        return m

    with pytest.raises(ValueError) as info:
        data_randomization_test(build, x, y, x[:2], y[:2], "gradient", epochs=1, verbose=False)
    assert "`build_model`" in str(info.value) and "fit_kwargs" not in str(info.value)


def test_noise_that_broadcasts_per_draw_is_noise(convnet):
    """A noise function may give one value per draw, `(S, 1, 1, 1)`: it broadcasts as before."""
    from vis.losses import ActivationMaximization
    from vis.methods.smoothgrad import smooth_gradients

    model, x, _ = convnet
    shifts = np.random.default_rng(1).normal(0, 0.1, (8, 1, 1, 1)).astype("float32")
    losses = [(ActivationMaximization("out", 0), 1.0)]
    got = smooth_gradients(model, losses, x, lambda i: shifts)
    full = smooth_gradients(model, losses, x,
                            lambda i: np.broadcast_to(shifts, (8,) + x.shape[1:]).copy())
    np.testing.assert_allclose(got, full, rtol=1e-6)
    with pytest.raises(ValueError, match="noise of input 0 has shape"):
        smooth_gradients(model, losses, x, lambda i: np.zeros((8, 2, 2, 1), "float32"))
