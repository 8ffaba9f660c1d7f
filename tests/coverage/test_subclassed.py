"""Subclassed models: copied when their class can be re-created, else explained as they are."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import vis
from vis.copies import DirectCopy, ModelCopy, get_copy, weights_digest


class ConfigurableNet(keras.Model):
    """The Keras idiom: `**kwargs` reach `super().__init__`, so the class re-creates itself."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3, activation="relu")
        self.flat = keras.layers.Flatten()
        self.head = keras.layers.Dense(3, activation="softmax")

    def call(self, x):
        return self.head(self.flat(self.conv(x)))


class OpaqueNet(keras.Model):
    """A constructor argument without `get_config`: vis cannot re-create this class."""

    def __init__(self, units):
        super().__init__()
        self.conv = keras.layers.Conv2D(4, 3, activation="relu")
        self.flat = keras.layers.Flatten()
        self.head = keras.layers.Dense(units)

    def call(self, x):
        return self.head(self.flat(self.conv(x)))


@pytest.fixture
def x():
    return np.random.default_rng(51).uniform(size=(3, 8, 8, 1)).astype("float32")


def _tape(fn, x, t):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        score = tf.reduce_sum(tf.gather(fn(xt), t, batch_dims=1))
    return tape.gradient(score, xt).numpy()


def _snapshot(model):
    return weights_digest(model), {id(layer): (layer.call, getattr(layer, "activation", None))
                                   for layer in model.layers}


def _assert_untouched(model, snapshot):
    digest, attributes = snapshot
    assert weights_digest(model) == digest
    for layer in model.layers:
        call, activation = attributes[id(layer)]
        assert layer.call == call and getattr(layer, "activation", None) is activation


def test_a_recreatable_subclassed_model_gets_every_method(x):
    keras.utils.set_random_seed(51)
    model = ConfigurableNet()
    model(x)
    snapshot = _snapshot(model)
    t = np.array([0, 2, 1])
    assert isinstance(get_copy(model), ModelCopy)

    def logits(xt):  # the head's pre-softmax score, computed independently
        return model.flat(model.conv(xt)) @ model.head.kernel + model.head.bias

    np.testing.assert_allclose(vis.explain(model, x, "gradient", t), _tape(logits, x, t),
                               rtol=1e-5, atol=1e-7)
    ig = vis.explain(model, x, "integrated_gradients", t, steps=128)
    f = tf.gather(logits(x), t, batch_dims=1).numpy()
    f0 = tf.gather(logits(np.zeros_like(x)), t, batch_dims=1).numpy()
    np.testing.assert_allclose(ig.reshape(3, -1).sum(1), f - f0, rtol=0.02, atol=1e-4)
    # methods that need the layers: reached through the copy
    cams = vis.explain(model, x, "gradcam", t)
    assert cams.shape == (3, 8, 8) and np.all(np.isfinite(cams))
    guided = vis.explain(model, x, "guided_backprop", t)
    assert not np.allclose(guided, vis.explain(model, x, "gradient", t))
    hidden = vis.explain(model, x, "gradient", 1, output=model.conv.name)
    assert hidden.shape == x.shape
    _assert_untouched(model, snapshot)


def test_an_opaque_subclassed_model_is_explained_on_its_output(x):
    keras.utils.set_random_seed(52)
    model = OpaqueNet(3)
    model(x)
    snapshot = _snapshot(model)
    t = np.array([1, 1, 0])
    assert isinstance(get_copy(model), DirectCopy)
    np.testing.assert_allclose(vis.explain(model, x, "gradient", t), _tape(model, x, t),
                               rtol=1e-5, atol=1e-7)
    ig = vis.explain(model, x, "ig", t, steps=128)
    delta = (tf.gather(model(x), t, batch_dims=1) -
             tf.gather(model(np.zeros_like(x)), t, batch_dims=1)).numpy()
    np.testing.assert_allclose(ig.reshape(3, -1).sum(1), delta, rtol=0.02, atol=1e-4)
    occ = vis.explain(model, x, "occlusion", t, window=(2, 2))
    assert occ.shape == x.shape and np.any(occ != 0)
    predicted = np.asarray(model(x)).argmax(1)
    np.testing.assert_array_equal(vis.explain(model, x), vis.explain(model, x, "gradient",
                                                                     predicted))
    for method, match in (("guided_backprop", "needs a copy of model"),
                          ("gradcam", "needs the layers")):
        with pytest.raises(ValueError, match=match):
            vis.explain(model, x, method, 0)
    with pytest.raises(ValueError, match="`output`='dense'.*only its output"):
        vis.explain(model, x, "gradient", 0, output="dense")
    _assert_untouched(model, snapshot)


def test_token_conv1d_gradcam_and_messages():
    keras.utils.set_random_seed(53)
    tokens = keras.Input((9,), dtype="int32")
    h = keras.layers.Embedding(15, 4)(tokens)
    h = keras.layers.Conv1D(3, 3, activation="relu", name="conv")(h)
    model = keras.Model(tokens, keras.layers.Dense(2)(keras.layers.Flatten()(h)))
    ids = np.random.default_rng(53).integers(0, 15, size=(2, 9)).astype("int32")
    cams = vis.explain(model, ids, "gradcam", 1)
    assert cams.shape == (2, 9) and np.all(np.isfinite(cams))
    # token ids declared as floats: the message says how to declare them
    floats = keras.Input((9,))
    g = keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Embedding(15, 4)(floats)))
    with pytest.raises(ValueError, match="dtype='int32'"):
        vis.explain(keras.Model(floats, g), ids.astype("float32"), "gradient", 0)


def test_multi_output_models_need_a_named_output():
    inp = keras.Input((3,))
    model = keras.Model(inp, [keras.layers.Dense(2, name="a")(inp),
                              keras.layers.Dense(1, name="b")(inp)])
    x = np.ones((2, 3), "float32")
    with pytest.raises(ValueError, match=r"2 outputs \['a', 'b'\]"):
        vis.explain(model, x)
    assert vis.explain(model, x, "random", 0, output="b").shape == x.shape
