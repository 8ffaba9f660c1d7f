"""vis.demo helpers: method maps against independent references, the grid figure's content."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def batch(digits_cnn):
    from vis.demo import pick_examples

    model, _, (x_test, y_test) = digits_cnn
    idx = pick_examples(model, x_test, y_test, 3)
    return model, x_test[idx], y_test[idx]


def logit_gradient(model, x, y):
    """d logit_y / d x with a hand-written tape on the pre-softmax logits."""
    import keras
    import tensorflow as tf

    features = keras.Model(model.input, model.get_layer("dense").output)
    kernel, bias = model.get_layer("predictions").get_weights()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        logits = tf.matmul(features(xt), kernel) + bias
        score = tf.reduce_sum(tf.gather(logits, y, batch_dims=1))
    return tape.gradient(score, xt).numpy()


def test_pick_examples_distinct_correct_classes(digits_cnn):
    from vis.demo import pick_examples

    model, _, (x_test, y_test) = digits_cnn
    idx = pick_examples(model, x_test, y_test, 5)
    pred = model.predict(x_test[idx], verbose=0).argmax(-1)
    assert len(idx) == 5 and len(set(y_test[idx])) == 5
    np.testing.assert_array_equal(pred, y_test[idx])


def test_method_maps_match_references(batch):
    from vis.demo import method_maps

    model, x, y = batch
    maps = method_maps(model, x, y, methods=("gradient", "gradient_x_input", "gradcam"))
    assert list(maps) == ["gradient", "gradient_x_input", "gradcam"]
    g = logit_gradient(model, x, y)[..., 0]
    mag = np.abs(g)
    lo, hi = mag.min(axis=(1, 2), keepdims=True), mag.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(maps["gradient"], (mag - lo) / (hi - lo), atol=1e-5)
    gxi = g * x[..., 0]
    np.testing.assert_allclose(maps["gradient_x_input"],
                               gxi / np.abs(gxi).max(axis=(1, 2), keepdims=True), atol=1e-5)
    cam = maps["gradcam"]
    assert cam.shape == (3, 8, 8)
    assert np.all(cam.min(axis=(1, 2)) == 0.0) and np.allclose(cam.max(axis=(1, 2)), 1.0)


def test_method_maps_rejects_unknown_method(batch):
    from vis.demo import method_maps

    model, x, y = batch
    with pytest.raises(ValueError, match="unknown \\['magic'\\]"):
        method_maps(model, x, y, methods=("gradient", "magic"))


def test_plot_method_grid_shows_the_maps(batch):
    import matplotlib

    matplotlib.use("Agg")
    from vis.demo import plot_method_grid

    _, x, y = batch
    rng = np.random.default_rng(0)
    maps = {"gradient": rng.random((3, 8, 8)), "lrp": rng.uniform(-1, 1, (3, 8, 8))}
    fig = plot_method_grid(x, maps, [f"y={k}" for k in y], title="t")
    axes = np.array(fig.axes).reshape(3, 3)
    assert [ax.get_title() for ax in axes[0]] == ["input", "gradient", "LRP-eps"]
    for i in range(3):
        np.testing.assert_array_equal(axes[i, 0].images[0].get_array(), x[i, ..., 0])
        np.testing.assert_array_equal(axes[i, 1].images[0].get_array(), maps["gradient"][i])
        np.testing.assert_array_equal(axes[i, 2].images[0].get_array(), maps["lrp"][i])
        assert axes[i, 0].get_ylabel() == f"y={y[i]}"
    assert axes[0, 2].images[0].get_cmap().name == "bwr"       # signed: diverging, symmetric
    assert axes[0, 2].images[0].get_clim() == (-1, 1)
    assert axes[0, 1].images[0].get_clim() == (0, 1)
    import matplotlib.pyplot as plt

    plt.close(fig)
