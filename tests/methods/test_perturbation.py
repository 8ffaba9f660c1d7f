"""Occlusion, RISE and feature ablation against brute-force loops; the shared evaluator."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.ndimage import gaussian_filter

import vis
from vis import engine
from vis.copies import weights_digest
from vis.methods import _perturb
from vis.methods._perturb import Evaluator, bilinear_matrix, resolve_baseline
from vis.methods.rise import MaskSampler


def small_cnn(shape=(20, 18, 2), classes=3, softmax=True, seed=0):
    """Conv -> Flatten -> Dense: a tiny CNN with seeded weights."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(classes, activation="softmax" if softmax else None, name="out")(h)
    return keras.Model(inp, out)


def logits_of(model):
    """A NumPy function returning the pre-softmax scores of `small_cnn` (independent path)."""
    head = keras.Model(model.inputs[0], model.get_layer("out").input)
    W, b = model.get_layer("out").get_weights()
    return lambda z: head.predict(z, verbose=0).astype("float64") @ W + b


@pytest.fixture(scope="module")
def cnn():
    model = small_cnn()
    x = np.random.default_rng(0).normal(size=(3, 20, 18, 2)).astype("float32")
    return model, x, np.array([0, 1, 2])


# --- occlusion ---------------------------------------------------------------------------------


def occlusion_loop(f, x, t, window, stride, base):
    """Captum's occlusion by hand: windows at multiples of the stride, cut at the border."""
    H, W = x.shape[1:3]
    out = np.zeros(x.shape)
    for i in range(len(x)):
        total, count = np.zeros((H, W)), np.zeros((H, W))
        windows, occluded = [], []
        for r in range(0, stride * math.ceil((H - window) / stride) + 1, stride):
            for c in range(0, stride * math.ceil((W - window) / stride) + 1, stride):
                if r >= H or c >= W:
                    continue
                z = x[i].copy()
                z[r:r + window, c:c + window] = base[i, r:r + window, c:c + window]
                windows.append((slice(r, r + window), slice(c, c + window)))
                occluded.append(z)
        scores = f(np.stack([x[i]] + occluded))[:, t[i]]  # one forward call for speed
        for w, score in zip(windows, scores[1:]):
            total[w] += scores[0] - score
            count[w] += 1
        out[i] = np.where(count > 0, total / np.maximum(count, 1), 0)[..., None]
    return out


@pytest.mark.parametrize("baseline", [0.5, "mean", "blur"])
def test_occlusion_equals_a_brute_force_loop_with_overlapping_windows(cnn, baseline):
    model, x, t = cnn
    digest = weights_digest(model)
    got = vis.explain(model, x, "occlusion", t, window=8, strides=4, baseline=baseline)
    if baseline == "mean":
        base = np.broadcast_to(x.mean(axis=(1, 2), keepdims=True), x.shape)
    elif baseline == "blur":  # sigma max(1, size / 8) per spatial axis
        base = gaussian_filter(x.astype("float64"), (0, 20 / 8, 18 / 8, 0))
    else:
        base = np.full(x.shape, baseline)
    want = occlusion_loop(logits_of(model), x, t, 8, 4, base.astype("float32"))
    assert got.shape == x.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    assert weights_digest(model) == digest


def test_occlusion_strides_wider_than_the_window_leave_pixels_at_zero():
    model = small_cnn((8, 8, 1), softmax=False, seed=1)
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 1)).astype("float32")
    got = vis.explain(model, x, "occlusion", 1, window=2, strides=3)
    want = occlusion_loop(logits_of(model), x, [1, 1], 2, 3, np.zeros_like(x))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.all(got[:, 2] == 0) and np.all(got[:, :, 5] == 0) and np.any(got[:, 0] != 0)


def test_occlusion_is_batched_and_independent_of_batch_size(cnn, monkeypatch):
    model, x, t = cnn
    calls = []
    scores = engine.scores
    monkeypatch.setattr(_perturb.engine, "scores",
                        lambda m, losses, z, **kw: calls.append(len(z)) or scores(m, losses, z))
    a = vis.explain(model, x, "occlusion", t, window=(5, 6), strides=(3, 4), batch_size=17)
    windows = len(range(0, 20 - 5 + 3, 3)) * len(range(0, 18 - 6 + 4, 4))
    assert max(calls) <= 17 and sum(calls) == len(x) * (windows + 1)
    assert len(calls) == math.ceil(len(x) / 17) + math.ceil(len(x) * windows / 17)
    monkeypatch.setattr(_perturb.engine, "scores", scores)
    b = vis.explain(model, x, "occlusion", t, window=(5, 6), strides=(3, 4))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    one = vis.explain(model, x[1], "occlusion", t[1], window=(5, 6), strides=(3, 4))
    # float32 scores of a batch of 1 and of 17 differ in the last bits
    np.testing.assert_allclose(one, b[1], rtol=1e-5, atol=1e-5 * np.abs(b).max())


def test_occlusion_errors_name_the_parameter(cnn):
    model, x, _ = cnn
    cases = [(dict(window=21), ValueError, r"`window` \(21, 21\) is larger"),
             (dict(window=(2, 2, 2)), ValueError, r"`window` must be a positive int or 2"),
             (dict(window=0), ValueError, r"`window`"),
             (dict(window=2, strides=0), ValueError, r"`strides`"),
             (dict(window=2, strides=1.5), ValueError, r"`strides`"),
             (dict(baseline="nope"), ValueError, r"`baseline` must be .*\['mean', 'blur'\]"),
             (dict(baseline=np.zeros((3, 3))), ValueError, r"`baseline` has shape \(3, 3\)"),
             (dict(baseline=True), TypeError, r"`baseline`"),
             (dict(baseline=np.nan), ValueError, r"`baseline` contains NaN"),
             (dict(verbose="yes"), TypeError, r"`verbose`"),
             (dict(input=1), ValueError, r"`input`=1 is out of range"),
             (dict(input="other"), ValueError, r"`input`='other' is not an input")]
    for kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            vis.explain(model, x, "occlusion", 0, **kwargs)
    tabular = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="feature_ablation"):
        vis.explain(tabular, np.ones((2, 4), "float32"), "occlusion", 0)


def test_baselines_broadcast_and_per_channel_values():
    x = np.random.default_rng(2).normal(size=(2, 4, 4, 3)).astype("float32")
    b = resolve_baseline(np.array([1.0, 2.0, 3.0]), x, mean_axes=(1, 2), blur_axes=(1, 2))
    assert b.shape == x.shape and np.all(b[..., 2] == 3)
    np.testing.assert_array_equal(resolve_baseline(x[0], x, mean_axes=(1, 2))[1], x[0])
    np.testing.assert_array_equal(resolve_baseline(x[::-1], x, mean_axes=(1, 2)), x[::-1])
    with pytest.raises(ValueError, match=r"one of \['mean'\]"):
        resolve_baseline("blur", x, mean_axes=(0,))


# --- RISE --------------------------------------------------------------------------------------


def test_rise_masks_are_upsampled_grids_cropped_at_a_shift():
    sampler = MaskSampler((10, 9), n=6, cells=3, p=0.5, seed=4)
    masks = sampler(slice(0, 6))
    rng = np.random.default_rng(4)
    grids = (rng.random((6, 3, 3)) < 0.5).astype("float32")
    shifts = rng.integers(0, 4, 6), rng.integers(0, 3, 6)  # ceil(10 / 3), ceil(9 / 3)
    up = tf.image.resize(grids[..., None], (16, 12), method="bilinear").numpy()[..., 0]
    for k in range(6):
        want = up[k, shifts[0][k]:shifts[0][k] + 10, shifts[1][k]:shifts[1][k] + 9]
        np.testing.assert_allclose(masks[k], want, atol=1e-6)
    np.testing.assert_allclose(sampler(slice(2, 4)), masks[2:4], atol=1e-7)
    for src, dst in ((3, 16), (7, 32), (4, 4)):
        ref = tf.image.resize(np.eye(src, dtype="float32")[None, :, :, None], (dst, src),
                              method="bilinear").numpy()[0, :, :, 0]
        np.testing.assert_allclose(bilinear_matrix(src, dst), ref, atol=1e-6)


def test_rise_equals_its_formula_with_a_per_mask_loop():
    model = small_cnn((10, 9, 1), classes=3, seed=3)
    x = np.random.default_rng(3).normal(size=(2, 10, 9, 1)).astype("float32")
    t = np.array([2, 0])
    got = vis.explain(model, x, "rise", t, masks=40, cells=3, p=0.4, seed=1)
    masks = MaskSampler((10, 9), 40, 3, 0.4, 1)(slice(0, 40)).astype("float64")
    want = np.zeros((2, 10, 9))
    for i in range(2):
        probs = model.predict(np.stack([x[i] * m[..., None] for m in masks]), verbose=0)
        for m, prob in zip(masks, probs[:, t[i]]):
            want[i] += prob * m
    want /= 40 * 0.4
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_rise_on_a_model_reading_one_quadrant_puts_its_mass_there():
    inp = keras.Input((16, 16, 1))
    h = keras.layers.Flatten()(keras.layers.Cropping2D(((0, 8), (0, 8)))(inp))  # top-left
    dense = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inp, dense(h))
    # class 0's logit 0.2 * (kept quadrant pixels - 32): probability ~0.5 under RISE's masks
    dense.set_weights([np.stack([np.full(64, 0.2), np.zeros(64)], 1).astype("float32"),
                       np.array([-6.4, 0.0], "float32")])
    x = np.ones((1, 16, 16, 1), "float32")
    maps = vis.explain(model, x, "rise", 0, masks=600, cells=4, seed=0)
    inside, far = maps[0, :8, :8], maps[0, 8:, 8:]
    assert inside.min() > far.max() and inside.mean() > far.mean() + 0.1
    top = np.argsort(maps[0].ravel())[-64:]  # the 64 largest pixels: 90% in the quadrant
    assert np.mean((top // 16 < 8) & (top % 16 < 8)) > 0.9


def test_rise_same_seed_same_map_and_memory_bounded_by_batch_size(cnn, monkeypatch):
    model, x, t = cnn
    a = vis.explain(model, x, "rise", t, masks=50, cells=4, seed=7)
    sizes = []
    activations = engine.activations
    monkeypatch.setattr(_perturb.engine, "activations",
                        lambda m, z, *args, **kw: sizes.append(len(z)) or activations(
                            m, z, *args, **kw))
    b = vis.explain(model, x, "rise", t, masks=50, cells=4, seed=7, batch_size=9)
    assert max(sizes) <= 9 and sum(sizes) == 150
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    one = vis.explain(model, x[2], "rise", t[2], masks=50, cells=4, seed=7)
    np.testing.assert_allclose(one, a[2], rtol=1e-6, atol=1e-7)
    c = vis.explain(model, x, "rise", t, masks=50, cells=4, seed=8)
    assert a.shape == (3, 20, 18) and np.all(a >= 0) and not np.allclose(a, c)


def test_rise_errors_name_the_parameter(cnn):
    model, x, _ = cnn
    for kwargs, match in [(dict(masks=0), "`masks`"), (dict(p=0), r"`p` must be .*\(0, 1\]"),
                          (dict(p=1.5), "`p`"), (dict(cells=0), "`cells`"),
                          (dict(seed=-1), "`seed`"), (dict(masks=2.5), "`masks`")]:
        with pytest.raises(ValueError, match=match):
            vis.explain(model, x, "rise", 0, **kwargs)


# --- feature ablation --------------------------------------------------------------------------


def test_feature_ablation_equals_a_loop_with_groups_and_mean_baseline():
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh"),
                              keras.layers.Dense(3)])
    x = np.random.default_rng(5).normal(size=(4, 6)).astype("float32")
    t = np.array([0, 1, 2, 0])
    groups = np.array([0, 0, 7, 3, 3, 3])
    f = lambda z: model.predict(z, verbose=0).astype("float64")  # noqa: E731
    for kwargs, base, labels in [(dict(), 0.0 * x, np.arange(6)),
                                 (dict(groups=groups, baseline="mean"),
                                  np.broadcast_to(x.mean(0), x.shape), groups)]:
        got = vis.explain(model, x, "feature_ablation", t, **kwargs)
        want = np.zeros(x.shape)
        for i in range(len(x)):
            ablated = []
            for g in np.unique(labels):
                z = x[i].copy()
                z[labels == g] = base[i, labels == g]
                ablated.append(z)
            scores = f(np.stack([x[i]] + ablated))[:, t[i]]
            for g, score in zip(np.unique(labels), scores[1:]):
                want[i, labels == g] = scores[0] - score
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis", ["time", "feature"])
def test_feature_ablation_of_sequences_by_time_step_or_feature(axis):
    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.Conv1D(4, 2, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    x = np.random.default_rng(6).normal(size=(2, 5, 3)).astype("float32")
    got = vis.explain(model, x, "feature_ablation", 1, axis=axis, baseline=0.25)
    f = lambda z: model.predict(z, verbose=0).astype("float64")[:, 1]  # noqa: E731
    want = np.zeros(x.shape)
    for i in range(2):
        for g in range(5 if axis == "time" else 3):
            z = x[i].copy()
            where = (g,) if axis == "time" else (slice(None), g)
            z[where] = 0.25
            clean, ablated = f(np.stack([x[i], z]))
            want[i][where] = clean - ablated
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="`groups` or `axis`, not both"):
        vis.explain(model, x, "feature_ablation", 1, axis=axis, groups=np.zeros((5, 3), int))
    with pytest.raises(ValueError, match=r"`axis` must be one of \['time', 'feature'\]"):
        vis.explain(model, x, "feature_ablation", 1, axis="channel")
    with pytest.raises(ValueError, match=r"`groups` has shape \(5,\)"):
        vis.explain(model, x, "feature_ablation", 1, groups=np.arange(5))
    with pytest.raises(TypeError, match="`groups` must hold integer"):
        vis.explain(model, x, "feature_ablation", 1, groups=np.zeros((5, 3)))


# --- the evaluator: multi-input models, progress -----------------------------------------------


def test_the_evaluator_perturbs_one_input_of_a_multi_input_model():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    dense = keras.layers.Dense(2, name="out")
    model = keras.Model([a, b], dense(keras.layers.Concatenate()([a, b])))
    xa = np.random.default_rng(8).normal(size=(3, 3)).astype("float32")
    xb = np.random.default_rng(9).normal(size=(3, 2)).astype("float32")
    index = _perturb.resolve_input(model, "b")
    assert index == 1 and _perturb.resolve_input(model, None) == 0
    ev = Evaluator(model, [xa, xb], np.array([0, 1, 1]), input_index=index, batch_size=4)
    scale = np.array([0.0, 1.0, 2.0], "float32")
    got = ev.run([3, 3, 3], lambda i, sl: xb[i] * scale[sl, None])
    for i in range(3):
        want = model.predict([np.repeat(xa[i:i + 1], 3, 0), xb[i] * scale[:, None]],
                             verbose=0)[:, [0, 1, 1][i]]
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-6)
    assert ev.calls == 3  # 9 perturbations, 4 per call


def test_progress_bar_on_request_when_long_and_never_when_off(cnn, capsys, monkeypatch):
    model, x, t = cnn
    vis.explain(model, x[:1], "occlusion", t[:1], window=4, verbose=True, batch_size=8)
    assert "occlusion" in capsys.readouterr().err
    vis.explain(model, x[:1], "occlusion", t[:1], window=4, batch_size=8)  # fast: no bar
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(_perturb, "PROGRESS_SECONDS", 0.0)  # every job is "long"
    vis.explain(model, x[:1], "rise", t[:1], masks=30, batch_size=8)
    assert "rise" in capsys.readouterr().err
    vis.explain(model, x[:1], "occlusion", t[:1], window=4, verbose=False, batch_size=8)
    assert capsys.readouterr().err == ""
    assert _perturb.default_batch_size((224, 224, 3)) == 111
    assert _perturb.default_batch_size((8, 8, 1)) == _perturb.MAX_BATCH
    assert _perturb.default_batch_size((4000, 4000, 3)) == 1


# --- layouts and consumers ---------------------------------------------------------------------


def test_channels_first_models_give_the_transposed_maps():
    def build(fmt):
        keras.utils.set_random_seed(0)
        inp = keras.Input((2, 6, 6) if fmt == "channels_first" else (6, 6, 2))
        h = keras.layers.Conv2D(3, 3, activation="relu", data_format=fmt, name="conv")(inp)
        if fmt == "channels_first":
            h = keras.layers.Permute((2, 3, 1))(h)
        return keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(h)))

    last, first = build("channels_last"), build("channels_first")
    first.set_weights(last.get_weights())
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype("float32")
    for name, options in [("occlusion", dict(window=2, baseline="blur")),
                          ("rise", dict(masks=20, cells=3)),
                          ("kernel_shap", dict(n_segments=4, samples=16)),
                          ("lime", dict(n_segments=4, samples=16)),
                          ("scorecam", dict(layer="conv")), ("layercam", dict(layer="conv"))]:
        a = vis.explain(last, x, name, 1, **options)
        b = vis.explain(first, np.moveaxis(x, -1, 1), name, 1, **options)
        np.testing.assert_allclose(a, np.moveaxis(b, 1, -1) if a.ndim == 4 else b, rtol=1e-5,
                                   atol=1e-6 * np.abs(a).max(), err_msg=name)


def test_perturbation_methods_work_under_smooth_and_in_the_sanity_checks(cnn):
    from vis.sanity import model_randomization_test

    model, x, t = cnn
    smooth = vis.explain(model, x[:2], "occlusion", t[:2], window=5, smooth={"samples": 2})
    assert smooth.shape == (2, 20, 18, 2)
    for name in ("occlusion", "rise"):
        result = model_randomization_test(model, x[:2], t[:2], name, verbose=False,
                                          metrics=("spearman",))
        assert np.all(np.isfinite(result.scores["spearman"]))


def test_probabilities_of_softmax_sigmoid_and_logit_outputs():
    x = np.random.default_rng(3).normal(size=(4, 3)).astype("float32")
    W = np.random.default_rng(4).normal(size=(3, 2)).astype("float32")
    for activation in ("softmax", "sigmoid", None):
        for units in (1, 2) if activation != "softmax" else (2,):  # (Keras warns on 1)
            inp = keras.Input((3,))
            dense = keras.layers.Dense(units, activation=activation)
            model = keras.Model(inp, dense(inp))
            dense.set_weights([W[:, :units], np.zeros(units, "float32")])
            t = np.zeros(4, "int64") if units == 1 else np.array([0, 1, 1, 0])
            ev = Evaluator(model, x, t, probability=True)
            z = (x @ W[:, :units]).astype("float64")
            if activation == "sigmoid" or units == 1:
                want = 1 / (1 + np.exp(-z))
            else:
                want = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            got = ev.scores(x, np.arange(4))
            np.testing.assert_allclose(got, want[np.arange(4), t], rtol=1e-5,
                                       err_msg=f"{activation}, {units} unit(s)")
