"""Deletion / insertion / pixel flipping against brute-force loops; faithfulness correlation."""

import keras
import numpy as np
import pytest
from helpers_models import dense_linear
from scipy.ndimage import gaussian_filter

import vis
from vis import engine
from vis.copies import weights_digest
from vis.metrics import deletion, faithfulness_correlation, insertion, pixel_flipping


def exact_convnet(softmax: bool, seed: int = 0):
    """(6, 6, 2) -> Conv2D(2, 3x3 valid, relu) -> Dense(3): integer weights and inputs in
    multiples of 1/4 make every score exact in float32, whatever the batch or summation order."""
    rng = np.random.default_rng(seed)
    inp = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inp)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(3, activation="softmax" if softmax else None, name="out")(h)
    model = keras.Model(inp, out)
    model.set_weights([rng.integers(-3, 4, size=w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


@pytest.fixture(scope="module")
def exact():
    rng = np.random.default_rng(1)
    x = (rng.integers(0, 5, size=(3, 6, 6, 2)) / 4).astype("float32")
    # coarse values: many ties between pixels, broken by the flat index
    maps = np.round(rng.normal(size=(3, 6, 6, 2)), 1)
    return exact_convnet(False), exact_convnet(True), x, maps, np.array([0, 2, 1])


def brute_force(model, x, maps, targets, steps, baseline, insert=False, region=None):
    """One image and one model call at a time, pixels (or regions) sorted by a Python key."""
    n, H, W, _ = x.shape
    pix = maps.sum(axis=-1) if maps.ndim == 4 else maps
    out = np.zeros((n, steps + 1))
    for i in range(n):
        if region is None:
            groups = {(r * W + c): [(r, c)] for r in range(H) for c in range(W)}
        else:
            groups = {}
            cols = -(-W // region)
            for r in range(H):
                for c in range(W):
                    groups.setdefault((r // region) * cols + c // region, []).append((r, c))
        value = {g: sum(pix[i][p] for p in members) for g, members in groups.items()}
        order = sorted(groups, key=lambda g: (-value[g], g))
        for s in range(steps + 1):
            k = (s * len(order)) // steps
            img = (baseline[i] if insert else x[i]).copy()
            for g in order[:k]:
                for r, c in groups[g]:
                    img[r, c, :] = x[i][r, c, :] if insert else baseline[i][r, c, :]
            out[i, s] = np.asarray(model(img[None], training=False))[0, targets[i]]
    return out


def softmax_rows(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("kind", ["deletion", "insertion"])
def test_curves_equal_a_brute_force_loop_exactly(exact, kind):
    logits, probs, x, maps, t = exact
    fn = deletion if kind == "deletion" else insertion
    base = np.full_like(x, 0.25)
    want = brute_force(logits, x, maps, t, 7, base, insert=kind == "insertion")
    got = fn(logits, x, maps, t, steps=7, baseline=0.25, score="logit")
    np.testing.assert_array_equal(got.scores, want)
    # a model without a softmax: "probability" is its output, here the same logits
    np.testing.assert_array_equal(fn(logits, x, maps, t, steps=7, baseline=0.25).scores, want)
    # CAM-shaped maps (already per pixel) give the same curve as maps summed over channels
    np.testing.assert_array_equal(
        fn(logits, x, maps.sum(axis=-1), t, steps=7, baseline=0.25, score="logit").scores, want)
    # the softmax twin: logits exactly, probabilities = softmax of the brute-force logits
    np.testing.assert_array_equal(
        fn(probs, x, maps, t, steps=7, baseline=0.25, score="logit").scores, want)
    full = np.stack([brute_force(logits, x, maps, np.full(3, c), 7, base,
                                 insert=kind == "insertion") for c in range(3)], axis=-1)
    p = softmax_rows(full)[np.arange(3), :, t]
    np.testing.assert_allclose(fn(probs, x, maps, t, steps=7, baseline=0.25).scores, p,
                               rtol=1e-6, atol=1e-7)


def test_curve_ends_auc_and_fractions(exact):
    logits, _, x, maps, t = exact
    curve = deletion(logits, x, maps, t, steps=5, baseline=0.0, score="logit")
    start = engine.scores(logits, vis.methods.target_score(-1, t), x)
    end = engine.scores(logits, vis.methods.target_score(-1, t), np.zeros_like(x))
    np.testing.assert_array_equal(curve.scores[:, 0], start)
    np.testing.assert_array_equal(curve.scores[:, -1], end)
    grid = np.linspace(0, 1, 6)
    np.testing.assert_array_equal(curve.auc, np.trapezoid(curve.scores, grid, axis=1))
    by_hand = ((curve.scores[:, 1:] + curve.scores[:, :-1]) / 2).sum(axis=1) / 5
    np.testing.assert_allclose(curve.auc, by_hand, rtol=1e-12)
    np.testing.assert_array_equal(curve.fractions, (np.arange(6) * 36 // 5) / 36)
    np.testing.assert_allclose(curve.aopc, (curve.scores[:, :1] - curve.scores).mean(axis=1))
    fig = curve.plot(label="maps")
    assert fig.axes[0].get_xlabel() == "fraction of pixels removed"
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "maps"
    assert "mean_auc" in repr(curve) and curve.steps == 5
    ins = insertion(logits, x, maps, t, steps=5, baseline=0.0, score="logit")
    np.testing.assert_array_equal(ins.scores[:, 0], end)
    np.testing.assert_array_equal(ins.scores[:, -1], start)


def test_pixel_flipping_regions_equal_a_brute_force_loop(exact):
    logits, _, x, maps, t = exact
    base = np.zeros_like(x)
    # 4 x 4 regions on 6 x 6: partial regions at the far borders, 4 regions
    want = brute_force(logits, x, maps, t, 4, base, region=4)
    got = pixel_flipping(logits, x, maps, t, region=4, score="logit")
    assert got.steps == 4
    np.testing.assert_array_equal(got.scores, want)
    np.testing.assert_array_equal(
        pixel_flipping(logits, x, maps, t, region=1, steps=36, score="logit").scores,
        deletion(logits, x, maps, t, steps=36, score="logit").scores)


def test_baselines_blur_array_callable(exact):
    logits, _, x, maps, t = exact
    blurred = gaussian_filter(x.astype("float64"), [0, 0.75, 0.75, 0], mode="nearest")
    want = brute_force(logits, x, maps, t, 3, blurred.astype("float32"), insert=True)
    got = insertion(logits, x, maps, t, steps=3, baseline="blur", score="logit")
    np.testing.assert_allclose(got.scores, want, rtol=1e-5, atol=1e-4)
    per_channel = np.array([0.5, 0.25], dtype="float32")
    a = deletion(logits, x, maps, t, steps=3, baseline=per_channel, score="logit")
    b = deletion(logits, x, maps, t, steps=3, baseline=lambda v: np.broadcast_to(per_channel,
                                                                                  v.shape),
                 score="logit")
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(
        a.scores, brute_force(logits, x, maps, t, 3, np.broadcast_to(per_channel, x.shape)))


def test_one_curve_of_100_steps_for_32_images_is_one_compiled_call(monkeypatch):
    model, _, _ = dense_linear(n_in=4, n_out=3, softmax=True, seed=0)
    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    calls = []
    original = engine.activations

    def counting(model_, X, layers, **kwargs):
        calls.append(len(X))
        return original(model_, X, layers, **kwargs)

    monkeypatch.setattr(engine, "activations", counting)
    curve = deletion(model, x, "gradient", np.zeros(32, dtype=int), steps=100)
    assert curve.scores.shape == (32, 101)
    assert calls == [32 * 101]


def test_method_options_model_untouched_and_errors(exact):
    logits, _, x, maps, t = exact
    digest = weights_digest(logits)
    with pytest.raises(TypeError, match="does not take the option `bogus`"):
        deletion(logits, x, "gradient", t, bogus=1)
    # a method by name with its options; options named like the metric's go through bind_method
    sg = vis.explain(logits, x, "smoothgrad", t, noise=0.3, samples=4)
    np.testing.assert_array_equal(deletion(logits, x, "smoothgrad", t, steps=4, noise=0.3,
                                           samples=4).scores,
                                  deletion(logits, x, sg, t, steps=4).scores)
    ig = vis.explain(logits, x, "integrated_gradients", t, steps=8, baseline=np.ones_like(x))
    bound = vis.metrics.bind_method("ig", steps=8, baseline=np.ones_like(x))
    np.testing.assert_array_equal(deletion(logits, x, bound, t, steps=4).scores,
                                  deletion(logits, x, ig, t, steps=4).scores)
    assert weights_digest(logits) == digest
    with pytest.raises(ValueError, match="`steps` must be an int >= 1"):
        deletion(logits, x, maps, t, steps=0)
    with pytest.raises(ValueError, match="`score` must be one of"):
        deletion(logits, x, maps, t, score="softmax")
    with pytest.raises(ValueError, match="`baseline` must be"):
        deletion(logits, x, maps, t, baseline="mean")
    with pytest.raises(ValueError, match="`baseline` must be"):
        deletion(logits, x, maps, t, baseline=np.zeros((5, 5)))
    with pytest.raises(ValueError, match="`attributions` has shape"):
        deletion(logits, x, maps[:, :5], t)
    with pytest.raises(ValueError, match="NaN or inf"):
        deletion(logits, x, np.where(maps > 0, np.nan, maps), t)
    with pytest.raises(TypeError, match="are for a method"):
        deletion(logits, x, maps, t, steps=3, noise=0.1)
    with pytest.raises(ValueError, match="`region` must be an int >= 1"):
        pixel_flipping(logits, x, maps, t, region=0)
    with pytest.raises(ValueError, match="`targets`"):
        insertion(logits, x, maps, [0, 1])


def test_faithfulness_correlation_is_one_for_exact_contributions_of_a_linear_model(monkeypatch):
    model, W, _ = dense_linear(n_in=40, n_out=3, softmax=True, seed=4)
    x = np.random.default_rng(4).random((5, 40)).astype("float32")
    t = np.array([0, 1, 2, 1, 0])
    # logit drop when S is zeroed = sum_{i in S} w_i x_i = the subset's gradient x input sum
    r = faithfulness_correlation(model, x, "gradient_x_input", t, samples=30, subset_size=6)
    np.testing.assert_allclose(r, 1.0, atol=1e-5)
    noise = np.random.default_rng(0).normal(size=x.shape)
    r_random = faithfulness_correlation(model, x, noise, t, samples=30, subset_size=6)
    assert np.all(np.abs(r_random) < 0.9) and r_random.mean() < 0.5
    again = faithfulness_correlation(model, x, noise, t, samples=30, subset_size=6)
    np.testing.assert_array_equal(r_random, again)  # seeded
    other = faithfulness_correlation(model, x, noise, t, samples=30, subset_size=6, seed=1)
    assert not np.array_equal(other, r_random)
    # one generator per input: more inputs, or smaller chunks, leave input i's subsets alone
    np.testing.assert_array_equal(
        faithfulness_correlation(model, x[:3], noise[:3], t[:3], samples=30, subset_size=6),
        r_random[:3])
    monkeypatch.setattr(vis.metrics._common, "MAX_CHUNK_VALUES", 40 * 30 * 2)
    np.testing.assert_array_equal(
        faithfulness_correlation(model, x, noise, t, samples=30, subset_size=6), r_random)
    # a map whose subset sums never vary has no correlation: 0, not NaN
    np.testing.assert_array_equal(
        faithfulness_correlation(model, x, np.zeros_like(x), t, samples=10), 0.0)
    with pytest.raises(ValueError, match="`subset_size` must be an int in 1..40"):
        faithfulness_correlation(model, x, noise, t, subset_size=41)
    with pytest.raises(ValueError, match="`samples` must be an int >= 2"):
        faithfulness_correlation(model, x, noise, t, samples=1)


def test_the_memory_guard_counts_what_a_curve_builds(exact, monkeypatch):
    """Deletion holds the repeated inputs and baselines, the masks and the result: 3 values of
    the input's dtype and a boolean per value of each copy (not 24 bytes: a 600x600x3 image's
    101-step curve fits)."""
    from vis.utils import checks

    model, _, x, maps, targets = exact
    asked = []
    memory = checks.memory
    monkeypatch.setattr(checks, "memory", lambda n, *a, **k: (asked.append(n), memory(n, *a, **k)))
    deletion(model, x, maps, targets, steps=10)  # float32 inputs: 3 * 4 + 1 bytes per value
    assert asked == [13 * 11 * x[0].size]
    checks.memory(13 * 101 * 600 * 600 * 3, "steps", 100, "101 copies")  # under the cap
