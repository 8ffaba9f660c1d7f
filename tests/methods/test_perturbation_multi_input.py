"""Perturbation methods on multi-input models (image + table): `input=`, one map per input
(`None` for an input not perturbed), each against a brute-force loop with the other input held.
"""

import itertools
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import vis
from vis.methods.gradcam import upsample
from vis.methods.lime import lime_coalitions, lime_weights
from vis.methods.rise import MaskSampler
from vis.methods.scorecam import normalized_masks

SEGMENTS = np.arange(36).reshape(6, 6) // 9  # four 9-pixel bands


@pytest.fixture(scope="module")
def two():
    """image (6, 6, 1) + meta (3,) -> 3 logits (no softmax: the output is the score)."""
    keras.utils.set_random_seed(3)
    image, meta = keras.Input((6, 6, 1), name="image"), keras.Input((3,), name="meta")
    h = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu", name="conv")(image))
    z = keras.layers.Concatenate()([h, keras.layers.Dense(4, activation="tanh",
                                                             name="meta_dense")(meta)])
    model = keras.Model([image, meta], keras.layers.Dense(3, name="out")(z))
    rng = np.random.default_rng(0)
    x = [rng.uniform(size=(2, 6, 6, 1)).astype("float32"),
         rng.normal(size=(2, 3)).astype("float32")]
    return model, x, np.array([0, 2])


def scores(model, image, meta, t):
    """The target logits of images `(B, 6, 6, 1)`, each with the sample's `meta` (3,)."""
    metas = np.repeat(meta[None], len(image), 0)
    return model([image, metas]).numpy().astype("float64")[:, t]


def probs(model, image, meta, t):
    metas = np.repeat(meta[None], len(image), 0)
    return tf.nn.softmax(model([image, metas])).numpy().astype("float64")[:, t]


def test_occlusion_maps_the_image_and_gives_none_for_the_table(two):
    model, x, t = two
    got = vis.explain(model, x, "occlusion", t, window=2, strides=2, baseline=0.5)
    assert isinstance(got, list) and got[1] is None
    want = np.zeros(x[0].shape)
    for i in range(2):
        images, windows = [x[0][i]], []
        for r, c in itertools.product(range(0, 6, 2), range(0, 6, 2)):
            z = x[0][i].copy()
            z[r:r + 2, c:c + 2] = 0.5
            images.append(z)
            windows.append((slice(r, r + 2), slice(c, c + 2)))
        s = scores(model, np.stack(images), x[1][i], t[i])
        for w, score in zip(windows, s[1:]):
            want[i][w] = s[0] - score
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-6)
    # dict inputs and input="image": the same map, keyed by input name
    as_dict = vis.explain(model, {"meta": x[1], "image": x[0]}, "occlusion", t, window=2,
                          strides=2, baseline={"image": 0.5}, input="image")
    assert set(as_dict) == {"image", "meta"} and as_dict["meta"] is None
    np.testing.assert_allclose(as_dict["image"], got[0], rtol=1e-6)
    # one sample: no batch axis, None stays None
    one = vis.explain(model, [x[0][1], x[1][1]], "occlusion", int(t[1]), window=2,
                      baseline=0.5)
    assert one[1] is None
    np.testing.assert_allclose(one[0], got[0][1], rtol=1e-5, atol=1e-6)


def test_feature_ablation_maps_every_input_with_per_input_options(two):
    model, x, t = two
    groups = {"meta": np.array([0, 0, 1])}  # the first two features together
    got = vis.explain(model, x, "feature_ablation", t, groups=groups,
                      baseline=[0.0, np.array([1.0, 2.0, 3.0], "float32")])
    want_image, want_meta = np.zeros(x[0].shape), np.zeros(x[1].shape)
    for i in range(2):
        copies = []
        for p in range(36):
            z = x[0][i].copy()
            z.reshape(-1)[p] = 0.0
            copies.append(z)
        s = scores(model, np.stack([x[0][i]] + copies), x[1][i], t[i])
        want_image[i] = (s[0] - s[1:]).reshape(6, 6, 1)
        for features in ([0, 1], [2]):
            m = x[1][i].copy()
            m[features] = np.array([1.0, 2.0, 3.0])[features]
            drop = scores(model, x[0][i:i + 1], x[1][i], t[i])[0] - \
                scores(model, x[0][i:i + 1], m, t[i])[0]
            want_meta[i, features] = drop
    np.testing.assert_allclose(got[0], want_image, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], want_meta, rtol=1e-5, atol=1e-6)
    only = vis.explain(model, tuple(x), "feature_ablation", t, input=1, groups=groups,
                       baseline={"meta": np.array([1.0, 2.0, 3.0], "float32")})
    assert isinstance(only, tuple) and only[0] is None
    np.testing.assert_allclose(only[1], got[1], rtol=1e-6)


def test_rise_masks_the_image_input(two):
    model, x, t = two
    got = vis.explain(model, x, "rise", t, masks=24, cells=3, p=0.5, seed=5)
    sampler = MaskSampler((6, 6), 24, 3, 0.5, 5)
    masks = sampler(slice(0, 24))
    want = np.zeros((2, 6, 6))
    for i in range(2):
        p = probs(model, x[0][i][None] * masks[..., None], x[1][i], t[i])
        want[i] = np.tensordot(p, masks, axes=1) / (24 * 0.5)
    assert got.shape == (2, 6, 6)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_kernel_shap_is_the_exact_shapley_value_of_the_image_segments(two):
    model, x, t = two
    got = vis.explain(model, x, "kernel_shap", t, segments=SEGMENTS, samples=64, baseline=0.0)
    assert got[1] is None
    m = 4
    for i in range(2):
        def v(coalition, i=i):
            keep = np.isin(SEGMENTS, list(coalition))[..., None]
            return scores(model, np.where(keep, x[0][i], 0.0)[None], x[1][i], t[i])[0]

        for j in range(m):
            others = [k for k in range(m) if k != j]
            phi = sum(math.factorial(len(s)) * math.factorial(m - len(s) - 1) / math.factorial(m)
                      * (v(s + (j,)) - v(s))
                      for r in range(m) for s in itertools.combinations(others, r))
            np.testing.assert_allclose(got[0][i][SEGMENTS == j], phi, rtol=1e-4, atol=1e-5)


def test_lime_is_its_weighted_ridge_with_the_table_held(two):
    from sklearn.linear_model import Ridge

    model, x, t = two
    got = vis.explain(model, x, "lime", t, segments=SEGMENTS, samples=40, seed=2,
                      input="image")
    assert got[1] is None
    z = lime_coalitions(4, 40, np.random.default_rng(2))
    for i in range(2):
        images = np.stack([np.where(z[k][SEGMENTS][..., None] > 0, x[0][i], 0.0)
                           for k in range(40)])
        fit = Ridge(alpha=1.0).fit(z, scores(model, images, x[1][i], t[i]),
                                   sample_weight=lime_weights(z, 0.25))
        np.testing.assert_allclose(got[0][i][..., 0], fit.coef_[SEGMENTS], rtol=1e-4,
                                   atol=1e-6)


def test_scorecam_and_layercam_refer_to_the_image_input(two):
    model, x, t = two
    features = keras.Model(model.inputs, model.get_layer("conv").output)
    acts = features(x).numpy().astype("float64")  # (2, 4, 4, 4)
    got = vis.explain(model, x, "scorecam", t, layer="conv")
    want = np.zeros((2, 4, 4))
    for i in range(2):
        masks = normalized_masks(np.moveaxis(acts[i], -1, 0), (6, 6))
        alpha = probs(model, x[0][i][None] * masks[..., None], x[1][i], t[i])
        constant = np.ptp(acts[i].reshape(-1, 4), axis=0) == 0  # a zero mask: a zero image
        alpha[constant] = probs(model, np.zeros((1, 6, 6, 1), "float32"), x[1][i], t[i])[0]
        want[i] = np.maximum(np.einsum("hwk,k->hw", acts[i], alpha), 0.0)
    np.testing.assert_allclose(got, upsample(want.astype("float32"), (6, 6)), rtol=1e-4,
                               atol=1e-6)
    # Layer-CAM: relu(sum_k relu(d score / d A_k) A_k), the gradient by a tape on the tail
    a = tf.constant(acts.astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(a)
        z = tf.concat([tf.reshape(a, (2, -1)), model.get_layer("meta_dense")(x[1])], axis=1)
        score = tf.reduce_sum(tf.gather(model.get_layer("out")(z), t, batch_dims=1))
    g = tape.gradient(score, a).numpy().astype("float64")
    manual = np.maximum((np.maximum(g, 0.0) * acts).sum(-1), 0.0)
    cam = vis.explain(model, x, "layercam", t, layer="conv")
    np.testing.assert_allclose(cam, upsample(manual.astype("float32"), (6, 6)), rtol=1e-4,
                               atol=1e-6)


def test_input_errors_name_the_parameter(two):
    model, x, t = two
    for method, kwargs, match in [
            ("occlusion", dict(input="meta"),
             r"`input`='meta': occlusion cannot perturb this input: it has shape \(3,\) per "
             r"sample, no spatial axes \(use 'feature_ablation'\)"),
            ("occlusion", dict(input=["image", "meta"]), r"`input`='meta'"),
            ("kernel_shap", dict(input=1), r"`input`='meta': kernel_shap .* not an image"),
            ("rise", dict(input="meta"), r"`input`='meta': rise"),
            ("lime", dict(input="other"), r"`input`='other' is not an input"),
            ("occlusion", dict(input=[]), r"`input` is an empty list"),
            ("occlusion", dict(baseline={"imgae": 0.0}), r"`baseline` has unknown keys"),
            ("feature_ablation", dict(groups={"meta": np.arange(4)}), r"`groups` has shape")]:
        with pytest.raises(ValueError, match=match):
            vis.explain(model, x, method, t, **kwargs)
    with pytest.raises(TypeError, match="`input` must be None, an int or an input name"):
        vis.explain(model, x, "occlusion", t, input=1.5)
    # two tabular inputs: nothing to occlude
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    table = keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Concatenate()([a, b])))
    rows = [np.ones((2, 3), "float32"), np.ones((2, 2), "float32")]
    with pytest.raises(ValueError, match=r"`input`: occlusion can perturb none of the model's "
                                         r"inputs \('a' has shape \(3,\)"):
        vis.explain(table, rows, "occlusion", 0)
    # a method's map that refers to one input needs `input=` to choose between two images
    p, q = keras.Input((4, 4, 1), name="p"), keras.Input((4, 4, 1), name="q")
    pair = keras.Model([p, q], keras.layers.Dense(2)(keras.layers.Flatten()(
        keras.layers.Concatenate()([p, q]))))
    images = [np.random.default_rng(1).uniform(size=(2, 4, 4, 1)).astype("float32")] * 2
    for method in ("rise", "scorecam"):
        with pytest.raises(ValueError, match=rf"`input`: {method} returns one map, of one "
                                             r"input, .* \['p', 'q'\]: choose one"):
            vis.explain(pair, images, method, 0)
    with pytest.raises(ValueError, match=r"rise returns one map, of one input; got \['p', 'q'\]"):
        vis.explain(pair, images, "rise", 0, input=["p", "q"])
    assert vis.explain(pair, images, "rise", 0, input="q", masks=8).shape == (2, 4, 4)
    both = vis.explain(pair, images, "occlusion", 0, window=2)  # each image separately
    assert [m.shape for m in both] == [(2, 4, 4, 1)] * 2


def test_none_survives_smoothing_and_a_method_must_return_a_map(two):
    model, x, t = two
    smooth = vis.explain(model, x, "occlusion", t, window=3, smooth={"samples": 2, "seed": 0})
    assert smooth[1] is None and smooth[0].shape == x[0].shape
    noise = vis.explain(model, x, "random", t)
    assert [m.shape for m in noise] == [a.shape for a in x]

    def nothing(model, inputs, targets, **options):
        return [None, None]

    with pytest.raises(ValueError, match="returned no map"):
        vis.explain(model, x, nothing, t)


def test_feature_ablation_of_token_ids_replaces_them_by_an_id():
    keras.utils.set_random_seed(4)
    ids, meta = keras.Input((4,), dtype="int32", name="ids"), keras.Input((2,), name="meta")
    h = keras.layers.Flatten()(keras.layers.Embedding(10, 3, name="embedding")(ids))
    model = keras.Model([ids, meta], keras.layers.Dense(2)(keras.layers.Concatenate()([h, meta])))
    x = [np.array([[1, 5, 7, 2], [3, 3, 9, 4]]), np.ones((2, 2), "float32")]
    got = vis.explain(model, x, "feature_ablation", [0, 1], baseline={"ids": 0})
    assert got[0].dtype == np.float32 and got[0].shape == (2, 4)
    for i, target in enumerate([0, 1]):
        clean = model([x[0][i:i + 1], x[1][i:i + 1]]).numpy()[0, target]
        for k in range(4):
            z = x[0][i:i + 1].copy()
            z[0, k] = 0
            drop = clean - model([z, x[1][i:i + 1]]).numpy()[0, target]
            np.testing.assert_allclose(got[0][i, k], drop, rtol=1e-5, atol=1e-6)
    for baseline in ("mean", 0.5):
        with pytest.raises(ValueError, match="`baseline` of an integer input"):
            vis.explain(model, x, "feature_ablation", 0, baseline={"ids": baseline})
