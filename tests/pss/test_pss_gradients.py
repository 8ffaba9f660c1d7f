"""Per-sample filter saliency against hand-derived gradients and single-sample loops."""

import keras
import numpy as np
import pytest
from pss_testing import (
    assert_close_1e6,
    conv_variants_model,
    exotic_conv_model,
    filter_mean,
    hand_model,
    hand_saliency,
    random_data,
    reference_saliency,
)

from vis.pss import ParameterSaliency


@pytest.fixture(scope="module")
def hand_data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(7, 4, 4, 1)).astype("float32"), rng.integers(0, 3, 7)


@pytest.mark.parametrize("method", ["patches", "vmap"])
def test_filter_saliency_matches_the_hand_derived_gradient(hand_data, method):
    model = hand_model()
    x, y = hand_data
    conv, dense, full = hand_saliency(model, x, y)
    psal = ParameterSaliency(model, include_dense=True, gradient_method=method)
    assert psal.filters == [("conv", 0), ("conv", 1), ("head", 0), ("head", 1), ("head", 2)]
    saliency = psal.filter_saliency(x, y, batch_size=4)
    np.testing.assert_allclose(saliency[:, :2], conv, rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(saliency[:, 2:], dense, rtol=2e-5, atol=1e-7)


def test_parameter_granularity_matches_the_hand_derived_gradient(hand_data):
    model = hand_model()
    x, y = hand_data
    _, _, full = hand_saliency(model, x, y)
    psal = ParameterSaliency(model, granularity="parameter")
    assert psal.filters == [("conv", i) for i in range(8)]
    np.testing.assert_allclose(psal.filter_saliency(x, y), full.reshape(len(x), -1),
                               rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("method", ["patches", "vmap"])
def test_vectorized_equals_a_per_sample_loop_on_the_digits_cnn(digits_cnn, method):
    model, _, (x, y) = digits_cnn
    x, y = x[:40], y[:40]
    psal = ParameterSaliency(model, gradient_method=method)
    logits_model = keras.Model(model.inputs[0], model.get_layer("dense").output)
    head = model.get_layer("predictions")

    # Independent reference: loop of single-sample tapes, logits formed by hand.
    import tensorflow as tf

    kernels = [model.get_layer("conv1").kernel, model.get_layer("conv2").kernel]
    rows = []
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            logits = tf.matmul(logits_model(x[i:i + 1]), head.kernel) + head.bias
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(y[i:i + 1], logits)
        grads = tape.gradient(loss, kernels)
        rows.append(np.concatenate([filter_mean(np.abs(g.numpy())) for g in grads]))
    assert_close_1e6(psal.filter_saliency(x, y, batch_size=16), np.array(rows))


@pytest.mark.parametrize("kind", ["1d", "2d", "3d"])
def test_patches_rule_handles_padding_strides_dilation_and_rank(kind):
    model = conv_variants_model(kind)
    x, y = random_data(model.inputs[0].shape[1:], 6, seed=1)
    psal = ParameterSaliency(model, include_dense=True)
    assert psal.method == "patches"
    kernels = [layer.kernel for layer in model.layers if hasattr(layer, "kernel")]
    reference = reference_saliency(model, x, y, kernels, [filter_mean] * len(kernels))
    assert_close_1e6(psal.filter_saliency(x, y), reference)
    if kind == "2d":
        vmap = ParameterSaliency(model, include_dense=True, gradient_method="vmap")
        assert_close_1e6(vmap.filter_saliency(x, y), reference)


def test_parameter_granularity_on_strided_convolutions():
    model = conv_variants_model("2d")
    x, y = random_data((9, 9, 2), 4, seed=2)
    psal = ParameterSaliency(model, granularity="parameter")
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    reference = reference_saliency(model, x, y, kernels, [np.ravel] * len(kernels))
    assert len(psal.filters) == sum(int(np.prod(k.shape)) for k in kernels)
    assert_close_1e6(psal.filter_saliency(x, y), reference)


def test_transposed_depthwise_and_separable_kernels_via_vmap():
    model = exotic_conv_model()
    x, y = random_data((5, 5, 2), 5, seed=3)
    psal = ParameterSaliency(model)
    assert psal.method == "vmap"
    names = sorted({name for name, _ in psal.filters})
    assert names == ["dconv", "sconv/depthwise", "sconv/pointwise", "tconv"]
    tconv, dconv, sconv = (model.get_layer(n) for n in ("tconv", "dconv", "sconv"))

    def depthwise(g):  # (h, w, C, M) -> output channel c * M + m
        return g.reshape(-1, g.shape[-2] * g.shape[-1]).mean(axis=0)

    def transposed(g):  # (h, w, O, C): filters on axis -2
        return g.mean(axis=(0, 1, 3))

    reference = reference_saliency(
        model, x, y,
        [tconv.kernel, dconv.kernel, sconv.depthwise_kernel, sconv.pointwise_kernel],
        [transposed, depthwise, depthwise, filter_mean],
    )
    assert_close_1e6(psal.filter_saliency(x, y), reference)


def test_nested_model_is_supported_with_path_names():
    inner = keras.Sequential([
        keras.Input((6, 6, 1)),
        keras.layers.Conv2D(3, 3, activation="relu", name="c1",
                            kernel_initializer=keras.initializers.GlorotUniform(1)),
        keras.layers.Conv2D(2, 3, activation="tanh", name="c2",
                            kernel_initializer=keras.initializers.GlorotUniform(2)),
    ], name="block")
    inputs = keras.Input((6, 6, 1))
    h = keras.layers.Flatten()(inner(inputs))
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(h)
    model = keras.Model(inputs, outputs)
    x, y = random_data((6, 6, 1), 5, seed=4)
    psal = ParameterSaliency(model)
    assert psal.method == "vmap"
    assert [f for f in psal.filters if f[1] == 0] == [("block/c1", 0), ("block/c2", 0)]
    logits = keras.Model(inputs, h)
    head = model.get_layer("out")

    import tensorflow as tf

    kernels = [inner.get_layer("c1").kernel, inner.get_layer("c2").kernel]
    rows = []
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            z = tf.matmul(logits(x[i:i + 1]), head.kernel) + head.bias
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(y[i:i + 1], z)
        rows.append(np.concatenate([filter_mean(np.abs(g.numpy()))
                                    for g in tape.gradient(loss, kernels)]))
    assert_close_1e6(psal.filter_saliency(x, y), np.array(rows))
    with pytest.raises(ValueError, match="gradient_method='vmap'"):
        ParameterSaliency(model, gradient_method="patches")


def test_layers_restricts_the_columns(digits_cnn):
    model, _, (x, y) = digits_cnn
    full = ParameterSaliency(model).filter_saliency(x[:8], y[:8])
    only = ParameterSaliency(model, layers=["conv2"])
    assert only.filters == [("conv2", i) for i in range(32)]
    np.testing.assert_allclose(only.filter_saliency(x[:8], y[:8]), full[:, 16:], rtol=1e-6)
    dense = ParameterSaliency(model, layers=["dense"])
    assert dense.filters == [("dense", i) for i in range(32)]


def test_copy_follows_later_changes_of_the_model_weights():
    model = conv_variants_model("2d")
    x, y = random_data((9, 9, 2), 4, seed=5)
    psal = ParameterSaliency(model)
    before = psal.filter_saliency(x, y)
    kernel = model.layers[1].kernel
    kernel.assign(kernel.numpy() * 1.5)
    fresh = ParameterSaliency(model).filter_saliency(x, y)
    np.testing.assert_array_equal(psal.filter_saliency(x, y), fresh)
    assert not np.allclose(before, fresh)
