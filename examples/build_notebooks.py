"""Writes the example notebooks with nbformat and executes them with nbclient (outputs stored).

Usage:
    python examples/build_notebooks.py            # write + execute every notebook (full settings)
    python examples/build_notebooks.py --fast     # VIS_FAST=1: shrunk training (what CI runs)
    python examples/build_notebooks.py --no-run   # write only
    python examples/build_notebooks.py 02 05      # only notebooks whose name contains 02 or 05

Every notebook honours the environment variable `VIS_FAST=1`, which shrinks training and sample
counts so that CI (tests/test_notebooks_and_docs.py) executes them in seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

SETUP = '''%matplotlib inline
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets
FAST = os.environ.get("VIS_FAST") == "1"  # CI sets VIS_FAST=1: less training, fewer samples

import matplotlib.pyplot as plt
import numpy as np'''

TRAIN_DIGITS = '''from vis.utils.digits import train_digits_cnn

model, (x_train, y_train), (x_test, y_test) = train_digits_cnn(epochs=6 if FAST else 15, seed=0)
probs = model.predict(x_test, verbose=0)
print(f"test accuracy: {(probs.argmax(-1) == y_test).mean():.3f}")'''


def _show_row_helper() -> str:
    return '''def show_rows(rows, titles, row_labels, cmaps=None, size=1.3):
    """rows: list of (N, H, W) arrays; one figure row per entry, one column per image."""
    n = len(rows[0])
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n, size * len(rows)), squeeze=False)
    for r, maps in enumerate(rows):
        for c in range(n):
            cmap = (cmaps or {}).get(r, "gray" if r == 0 else "inferno")
            axes[r, c].imshow(np.squeeze(maps[c]), cmap=cmap, interpolation="nearest")
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(titles[c], fontsize=8)
        axes[r, 0].set_ylabel(row_labels[r], fontsize=8)
    fig.tight_layout()
    return fig'''


NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}

NOTEBOOKS["01_saliency_on_digits"] = [
    ("md", """# Saliency maps on digits

Which pixels make a small CNN say "3"? This notebook trains the digits CNN that ships with `vis`
(scikit-learn's bundled 8x8 digits, no download, a few seconds), then explains it with the
keras-vis API: gradient saliency, guided backprop and deconvnet, Grad-CAM, SmoothGrad and
Integrated Gradients — and checks two of the promises on the way: softmax outputs are explained
on their *logits*, and Integrated Gradients is *complete*."""),
    ("code", SETUP),
    ("code", TRAIN_DIGITS),
    ("md", """## Gradient saliency

`visualize_saliency(model, layer_idx, filter_indices, seed_input)`: `filter_indices` can be one
class for every image, or `per_sample(y)` to explain each image's own label."""),
    ("code", '''from vis.visualization import per_sample, visualize_saliency

x, y = x_test[:8], y_test[:8]
grads = visualize_saliency(model, "predictions", per_sample(y), x)   # |d logit_y / dx|, in [0, 1]
print(grads.shape)'''),
    ("code", _show_row_helper() + '''


fig = show_rows([x, grads], [f"label {k}" for k in y], ["input", "|gradient|"])'''),
    ("md", """### The score is the pre-softmax logit

With `grad_modifier=None, normalize=False, keepdims=True` the map is exactly the raw gradient of
the class logit. We check it against a hand-written `tf.GradientTape` on the logits (the model's
last Dense layer without its softmax)."""),
    ("code", '''import keras
import tensorflow as tf

features = keras.Model(model.input, model.get_layer("dense").output)
kernel, bias = model.get_layer("predictions").get_weights()
xt = tf.constant(x)
with tf.GradientTape() as tape:
    tape.watch(xt)
    logits = tf.matmul(features(xt), kernel) + bias
    score = tf.reduce_sum(tf.gather(logits, y, batch_dims=1))
reference = tape.gradient(score, xt).numpy()

raw = visualize_saliency(model, -1, per_sample(y), x, grad_modifier=None, normalize=False,
                         keepdims=True)
print("max |difference|:", np.abs(raw - reference).max())
assert np.allclose(raw, reference, atol=1e-5)'''),
    ("md", """## Guided backprop and deconvnet

`backprop_modifier='guided'` passes the gradient through a ReLU only where both the forward input
and the incoming gradient are positive; `'relu'` (deconvnet) only looks at the incoming gradient.
The maps are crisper — see the sanity-check notebook for why that is not good news."""),
    ("code", '''guided = visualize_saliency(model, -1, per_sample(y), x, backprop_modifier="guided")
deconv = visualize_saliency(model, -1, per_sample(y), x, backprop_modifier="relu")
fig = show_rows([x, grads, guided, deconv], [f"label {k}" for k in y],
                ["input", "gradient", "guided", "deconvnet"])'''),
    ("md", """## Grad-CAM, SmoothGrad, Integrated Gradients"""),
    ("code", '''from vis.visualization import visualize_cam, visualize_integrated_gradients, visualize_smoothgrad

cam = visualize_cam(model, -1, per_sample(y), x)
cam_pp = visualize_cam(model, -1, per_sample(y), x, method="gradcam++")
smooth = visualize_smoothgrad(model, -1, per_sample(y), x, samples=16 if FAST else 50, seed=0)
ig = visualize_integrated_gradients(model, -1, per_sample(y), x, steps=32 if FAST else 64,
                                    grad_modifier="absolute")
fig = show_rows([x, cam, cam_pp, smooth, ig], [f"label {k}" for k in y],
                ["input", "Grad-CAM", "Grad-CAM++", "SmoothGrad", "|IG|"])'''),
    ("md", """### Completeness of Integrated Gradients

The attributions sum to the difference of the logit between the input and the (black) baseline:
$\\sum_i \\mathrm{IG}_i(x) \\approx S_c(x) - S_c(0)$."""),
    ("code", '''steps = 64 if FAST else 256
ig_raw = visualize_integrated_gradients(model, -1, per_sample(y), x, steps=steps,
                                        normalize=False, keepdims=True)


def logit(images):
    return (features(images).numpy() @ kernel + bias)[np.arange(len(y)), y]


total = ig_raw.reshape(len(y), -1).sum(axis=1)
expected = logit(x) - logit(np.zeros_like(x))
for t, e in zip(total, expected):
    print(f"sum(IG) = {t:8.4f}   f(x) - f(0) = {e:8.4f}   relative error {abs(t - e) / abs(e):.2%}")'''),
    ("md", """## Everything side by side

`vis.demo.method_maps` and `plot_method_grid` draw the figure of `vis demo` (every method,
including PatternNet, PatternAttribution and LRP from `vis.pattern`)."""),
    ("code", '''from vis.demo import METHODS, method_maps, pick_examples, plot_method_grid

idx = pick_examples(model, x_test, y_test, 4)
maps = method_maps(model, x_test[idx], y_test[idx], methods=METHODS,
                   smoothgrad_samples=16 if FAST else 50)
fig = plot_method_grid(x_test[idx], maps, [f"y={k}" for k in y_test[idx]])'''),
]

NOTEBOOKS["02_steering_regressor"] = [
    ("md", """# What makes a regressor steer left? Increase, decrease, maintain

keras-vis showed saliency for a self-driving steering-angle model with three grad modifiers: what
*increases* the predicted angle, what *decreases* it, and what *maintains* it. We build a tiny
stand-in: 16x16 "road" images with a bright lane line whose angle is the target, plus distracting
blobs, and a small CNN regressor with one linear output."""),
    ("code", SETUP),
    ("code", '''def road_images(n, seed=0, size=16):
    """Images with a lane line from the bottom centre at angle theta (the target), plus blobs."""
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-1.0, 1.0, n)                      # steering target, in [-1, 1]
    images = rng.normal(0.0, 0.05, (n, size, size)).astype("float32")
    t = np.linspace(0.0, 1.0, 40)
    for i, th in enumerate(theta):
        angle = th * np.pi / 4                              # up to 45 degrees left or right
        rows = (size - 1) - t * (size - 2) * np.cos(angle)
        cols = (size - 1) / 2 + t * (size - 2) * np.sin(angle)
        images[i, rows.round().astype(int), np.clip(cols.round().astype(int), 0, size - 1)] = 1.0
        for _ in range(2):                                  # distractors: random blobs
            r, c = rng.integers(0, size - 2, 2)
            images[i, r:r + 2, c:c + 2] += 0.6
    return np.clip(images, 0, 1)[..., None], theta.astype("float32")


x_train, y_train = road_images(2000 if FAST else 6000, seed=0)
x_test, y_test = road_images(200, seed=1)
fig, axes = plt.subplots(1, 6, figsize=(8, 1.6))
for ax, img, th in zip(axes, x_test, y_test):
    ax.imshow(img[..., 0], cmap="gray")
    ax.set_title(f"angle {th:+.2f}", fontsize=8)
    ax.axis("off")'''),
    ("code", '''import keras

keras.utils.set_random_seed(0)
inputs = keras.Input((16, 16, 1))
h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
h = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv2")(h)
h = keras.layers.Flatten()(h)
h = keras.layers.Dense(32, activation="relu", name="dense")(h)
outputs = keras.layers.Dense(1, name="steering")(h)       # linear regression output
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
model.fit(x_train, y_train, epochs=3 if FAST else 12, batch_size=64, verbose=0)
pred = model.predict(x_test, verbose=0)[:, 0]
print(f"test MAE: {np.abs(pred - y_test).mean():.3f} (targets in [-1, 1])")'''),
    ("md", """## Three questions, three grad modifiers

`ActivationMaximization` (what `visualize_saliency` uses) maximizes the output, so:

- `grad_modifier=None`: the signed gradient — bright pixels *increase* the angle (steer right),
  dark ones decrease it,
- `grad_modifier='negate'`: the reverse, what *decreases* it (steer left),
- `grad_modifier='small_values'`: $|1/g|$, the pixels whose change leaves the angle *steady*."""),
    ("code", '''from vis.visualization import visualize_saliency

order = np.argsort(y_test)
picked = order[[5, len(order) // 2, -5]]                   # a left, a straight, a right turn
x = x_test[picked]
increase = visualize_saliency(model, "steering", 0, x, grad_modifier=None)
decrease = visualize_saliency(model, "steering", 0, x, grad_modifier="negate")
maintain = visualize_saliency(model, "steering", 0, x, grad_modifier="small_values")

fig, axes = plt.subplots(3, 4, figsize=(7, 5.2))
for r, i in enumerate(picked):
    panels = [x_test[i][..., 0], increase[r], decrease[r], maintain[r]]
    names = [f"angle {y_test[i]:+.2f}", "increase", "decrease", "maintain"]
    for c, (img, name) in enumerate(zip(panels, names)):
        axes[r, c].imshow(img, cmap="gray" if c == 0 else "inferno")
        axes[r, c].set_title(name, fontsize=8)
        axes[r, c].axis("off")
fig.tight_layout()'''),
    ("md", """## Do the maps mean what they say?

Nudge each image along its signed gradient (`+eps * g`): the predicted angle must go up; along
`'negate'` it must go down. And perturbing the 10 pixels that `'small_values'` ranks highest must
move the prediction much less than perturbing 10 random pixels."""),
    ("code", '''raw = visualize_saliency(model, "steering", 0, x_test, grad_modifier=None, normalize=False)
unit = raw / np.abs(raw).reshape(len(raw), -1).max(axis=1)[:, None, None]
eps = 0.05
up = model.predict(x_test + eps * unit[..., None], verbose=0)[:, 0]
down = model.predict(x_test - eps * unit[..., None], verbose=0)[:, 0]
print(f"mean change along +gradient: {np.mean(up - pred):+.4f}")
print(f"mean change along -gradient: {np.mean(down - pred):+.4f}")

steady = visualize_saliency(model, "steering", 0, x_test, grad_modifier="small_values",
                            normalize=False)
rng = np.random.default_rng(0)


def perturb(images, pixel_sets):
    out = images.copy()
    for i, pixels in enumerate(pixel_sets):
        r, c = np.unravel_index(pixels, images.shape[1:3])
        out[i, r, c, 0] += 0.3
    return out


k = 10
top_steady = [np.argsort(-s.ravel())[:k] for s in steady]
random_px = [rng.choice(16 * 16, k, replace=False) for _ in steady]
move_steady = np.abs(model.predict(perturb(x_test, top_steady), verbose=0)[:, 0] - pred).mean()
move_random = np.abs(model.predict(perturb(x_test, random_px), verbose=0)[:, 0] - pred).mean()
print(f"|change| perturbing the {k} 'maintain' pixels: {move_steady:.4f}")
print(f"|change| perturbing {k} random pixels:        {move_random:.4f}")'''),
]

NOTEBOOKS["03_conv_filter_saliency"] = [
    ("md", """# What does a convolution filter look at?

`visualize_saliency` also explains *filters*: for a convolutional layer, `filter_indices` picks
filters, each reduced by its mean over spatial positions. This notebook shows, for a few filters
of `conv2`, which pixels of an image drive them, and then synthesizes inputs that maximize a
class or a filter with `visualize_activation` (activation maximization)."""),
    ("code", SETUP),
    ("code", TRAIN_DIGITS),
    ("code", '''import keras

conv2 = keras.Model(model.input, model.get_layer("conv2").output)
x = x_test[:6]
mean_act = conv2.predict(x, verbose=0).mean(axis=(1, 2))     # (6, 32): mean activation per filter
filters = np.argsort(-mean_act.mean(axis=0))[:4]             # the 4 most active filters
print("most active conv2 filters:", filters)'''),
    ("code", '''from vis.visualization import visualize_saliency

fig, axes = plt.subplots(len(filters) + 1, len(x), figsize=(1.3 * len(x), 1.3 * (len(filters) + 1)))
for c in range(len(x)):
    axes[0, c].imshow(x[c][..., 0], cmap="gray")
for r, f in enumerate(filters, start=1):
    maps = visualize_saliency(model, "conv2", int(f), x)
    for c in range(len(x)):
        axes[r, c].imshow(maps[c], cmap="inferno")
    axes[r, 0].set_ylabel(f"filter {f}", fontsize=8)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()'''),
    ("md", """The saliency of a filter is the gradient of its mean activation: check one map against a
hand-made `tf.GradientTape` (raw values: `grad_modifier=None, normalize=False`)."""),
    ("code", '''import tensorflow as tf

f = int(filters[0])
xt = tf.constant(x)
with tf.GradientTape() as tape:
    tape.watch(xt)
    score = tf.reduce_sum(tf.reduce_mean(conv2(xt)[..., f], axis=(1, 2)))
reference = tape.gradient(score, xt).numpy()
raw = visualize_saliency(model, "conv2", f, x, grad_modifier=None, normalize=False, keepdims=True)
print("max |difference|:", np.abs(raw - reference).max())
assert np.allclose(raw, reference, atol=1e-6)'''),
    ("md", """## Activation maximization

Gradient ascent from noise on a class logit (with total-variation and $L_p$ regularizers) gives an
input the network classifies as that class."""),
    ("code", '''from vis.visualization import visualize_activation

iters = 30 if FAST else 200
images = np.stack([
    visualize_activation(model, "predictions", k, input_range=(0.0, 1.0), max_iter=iters, seed=k)
    for k in range(10)
])
predicted = model.predict(images, verbose=0).argmax(-1)
fig, axes = plt.subplots(1, 10, figsize=(11, 1.6))
for k, ax in enumerate(axes):
    ax.imshow(images[k][..., 0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{k} -> {predicted[k]}", fontsize=8)
    ax.axis("off")
print("classified as their target class:", int((predicted == np.arange(10)).sum()), "/ 10")'''),
    ("code", '''filter_images = [
    visualize_activation(model, "conv2", int(f), input_range=(0.0, 1.0), max_iter=iters, seed=0)
    for f in filters
]
fig, axes = plt.subplots(1, len(filters), figsize=(1.6 * len(filters), 1.8))
for ax, f, img in zip(axes, filters, filter_images):
    ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"conv2 filter {f}", fontsize=8)
    ax.axis("off")'''),
]

NOTEBOOKS["04_patternnet_signal_quality"] = [
    ("md", """# PatternNet: the signal is not the weight

Kindermans et al. (ICLR 2018) point out that a linear filter $w$ that extracts a signal must also
cancel the *distractor*, so $w$ points somewhere between the two: gradients, deconvnet and guided
backprop, which all back-project $w$, mix signal and distractor. PatternNet learns the direction
of the signal — the *pattern* $a$ — from data."""),
    ("code", SETUP),
    ("md", """## The toy problem

$x = a_s s + a_d d$ with signal direction $a_s = (1, 0)$, distractor direction $a_d = (1, 1)$.
The filter $w = (1, -1)$ recovers $s$ exactly ($w^\\top x = s$) because it is orthogonal to $a_d$ —
but $w \\neq a_s$. The `linear` pattern estimator recovers $a_s$."""),
    ("code", '''import keras

from vis.pattern import fit_patterns

rng = np.random.default_rng(0)
s, d = rng.normal(size=(2, 5000))
x2 = (np.outer(s, [1.0, 0.0]) + np.outer(d, [1.0, 1.0])).astype("float32")
inputs = keras.Input((2,))
toy = keras.Model(inputs, keras.layers.Dense(1, use_bias=False, name="w")(inputs))
toy.get_layer("w").set_weights([np.array([[1.0], [-1.0]])])
print("w^T x == s:", np.allclose(toy.predict(x2, verbose=0)[:, 0], s, atol=1e-5))
pattern = fit_patterns(toy, x2, estimator="linear", verbose=False)["w"][:, 0]
print("weight  w =", toy.get_layer("w").get_weights()[0][:, 0])
print("pattern a =", np.round(pattern, 4), " (the signal direction a_s = (1, 0))")'''),
    ("code", '''fig, ax = plt.subplots(figsize=(3.6, 3.6))
ax.scatter(x2[:800, 0], x2[:800, 1], s=2, alpha=0.3, color="gray")
for vec, name, color in [((1, 0), "a_s (signal)", "C2"), ((1, 1), "a_d (distractor)", "C3"),
                         ((1, -1), "w (filter)", "C0"), (tuple(pattern), "fitted pattern", "C1")]:
    ax.annotate("", xy=vec, xytext=(0, 0), arrowprops=dict(color=color, width=1.5))
    ax.text(vec[0] * 1.1, vec[1] * 1.1 + 0.15, name, color=color, fontsize=8)
ax.set_xlim(-3, 3)
ax.set_ylim(-3, 3)
ax.set_aspect("equal")'''),
    ("md", """## PatternNet and PatternAttribution on digits"""),
    ("code", TRAIN_DIGITS),
    ("code", '''from vis.demo import method_maps, pick_examples, plot_method_grid

patterns = fit_patterns(model, x_train, estimator="two_component", verbose=False)
idx = pick_examples(model, x_test, y_test, 5)
maps = method_maps(model, x_test[idx], y_test[idx], patterns=patterns,
                   methods=("gradient", "deconvnet", "guided", "patternnet", "patternattribution",
                            "lrp"))
fig = plot_method_grid(x_test[idx], maps, [f"y={k}" for k in y_test[idx]])'''),
    ("md", """## How good is a signal estimator? $\\rho(S)$ per layer

$\\rho(S) = 1 - \\max_v \\operatorname{corr}(w^\\top x, v^\\top (x - S(x)))$ on held-out data: 1 means
the estimated distractor $x - S(x)$ carries nothing the neuron's output correlates with. $S_w$
(`filter`) is what the gradient implicitly assumes."""),
    ("code", '''from vis.pattern import plot_signal_quality, signal_quality

x_rho = x_train[:500] if FAST else x_train                   # half fits, half evaluates
estimators = ("filter", "two_component") if FAST else ("filter", "linear", "two_component")
quality = {est: signal_quality(model, x_rho, estimator=est, verbose=False) for est in estimators}
ax = plot_signal_quality(quality)
for est, values in quality.items():
    print(f"{est:>14}: " + "  ".join(f"{k}={v:.3f}" for k, v in values.items()))'''),
    ("md", """The filter estimator $S_w$ leaves most of the output's information in what it calls the
distractor; the data-driven estimators recover far better signals in the convolutional layers,
which is why PatternNet's maps show (blurred) digit shapes while the gradient's look like noise."""),
]

NOTEBOOKS["05_pss_misclassified_digit"] = [
    ("md", """# Which filters are to blame? Parameter-space saliency of a misclassified digit

Levin et al. (NeurIPS 2022) score every conv filter by how much the sample's loss depends on it,
*standardized* by how much it usually does on validation data. For a misclassified digit a few
filters stand out; switching those off helps the true class more than switching off random
filters."""),
    ("code", SETUP),
    ("code", TRAIN_DIGITS),
    ("code", '''from vis.pss import ParameterSaliency

n_fit = 400 if FAST else len(x_train)
pss = ParameterSaliency(model).fit(x_train[:n_fit], y_train[:n_fit], verbose=False)
print(len(pss.filters), "filters, e.g.", pss.filters[:3])

pred = probs.argmax(-1)
wrong = np.flatnonzero(pred != y_test)
right = np.flatnonzero(pred == y_test)
print(f"{len(wrong)} misclassified test digits")
print("mean profile, misclassified:", pss.profile(x_test[wrong], y_test[wrong]).mean().round(3))
print("mean profile, correct:      ", pss.profile(x_test[right], y_test[right]).mean().round(3))'''),
    ("code", '''from vis.pss import plot_input_saliency, plot_profile

i = wrong[np.argmin(probs[wrong, y_test[wrong]])]           # the most confidently wrong one
x1, y1 = x_test[i:i + 1], y_test[i:i + 1]
profile = pss.profile(x1, y1)[0]
print(f"digit {y1[0]} predicted as {pred[i]} (p={probs[i, pred[i]]:.2f})")
top = pss.top_filters(x1, y1, k=5)[0]
print("most salient filters:", [pss.filters[j] for j in top])
fig = plot_profile(profile, pss.filters, title="standardized filter saliency")
fig'''),
    ("md", """## Where in the image do the blamed filters fire?

Input-space saliency: the gradient w.r.t. the input of the cosine similarity between the profile
and a copy with its top-10 filters boosted."""),
    ("code", '''saliency = pss.input_saliency(x1, y1, k=10)[0]
fig = plot_input_saliency(x1[0], saliency, title=f"true {y1[0]}, predicted {pred[i]}")
fig'''),
    ("md", """## Switching filters off

For every misclassified test digit: zero its top-10 filters, or 10 random filters, and measure the
true-class probability (on a copy — the model is never changed)."""),
    ("code", '''from vis.pss import switch_off_experiment

result = switch_off_experiment(model, pss, x_test, y_test, k=10, n_random=5 if FAST else 20,
                               seed=0)
print(result.summary())
fig, ax = plt.subplots(figsize=(4.5, 3))
ax.boxplot([result.p_before, result.p_top, result.p_random.mean(axis=1)])
ax.set_xticks([1, 2, 3], ["all filters", "top-10 off", "random 10 off"])
ax.set_ylabel("true-class probability")'''),
]

NOTEBOOKS["06_sanity_checks"] = [
    ("md", """# Sanity checks for saliency maps

Adebayo et al. (NeurIPS 2018): if a map does not change when the model's weights are randomized,
it does not explain the model. We randomize the digits CNN's layers from the top down
(*cascading*) and measure how similar each method's maps stay."""),
    ("code", SETUP),
    ("code", TRAIN_DIGITS),
    ("code", '''from vis.sanity import model_randomization_test, plot_comparison

n = 8 if FAST else 32
methods = ("gradient", "guided_backprop", "gradcam") if FAST else (
    "gradient", "guided_backprop", "deconvnet", "smoothgrad", "integrated_gradients",
    "gradient_x_input", "gradcam", "guided_gradcam")
results = {m: model_randomization_test(model, x_test[:n], y_test[:n], m, mode="cascading",
                                       seed=0, verbose=False) for m in methods}
print(results["gradient"].summary())
print()
print(results["guided_backprop"].summary())
print()
for m, r in results.items():  # signed Spearman once the logits are randomized, and at the end
    s = r.scores["spearman"]
    print(f"{m:>22}: {np.mean(s[0]):+.3f} (top layer random)  {np.mean(s[-1]):+.3f} (all random)")'''),
    ("code", '''fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for ax, metric in zip(axes, ("spearman", "ssim")):
    plot_comparison(results, metric=metric, ax=ax)
fig.tight_layout()'''),
    ("code", '''curves, grid = results["guided_backprop"].plot(n_images=3)
grid'''),
    ("code", '''curves, grid = results["gradient"].plot(n_images=3)
grid'''),
    ("md", """## Data randomization

Train one model on the true labels and one on permuted labels: the second must *memorize* them
(train accuracy near 1, test accuracy at chance, 0.1), which a small CNN does on 400 digits with a
higher learning rate. A method that explains the model gives different maps for the two."""),
    ("code", '''import keras

from vis.sanity import data_randomization_test
from vis.utils.digits import build_digits_cnn


def build():
    net = build_digits_cnn(seed=0)
    net.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    return net


data_result = data_randomization_test(build, x_train[:400], y_train[:400], x_test, y_test,
                                      "gradient", epochs=10 if FAST else 60, n_explained=n, seed=0,
                                      verbose=False)
print(data_result.summary())
print("train accuracy (memorization):", data_result.train_accuracy)'''),
    ("md", """Read the numbers with the critiques in mind (docs: *Sanity checks*): absolute-value Spearman
is inflated by pixels that are zero in every map, and passing the test is a necessary condition,
not a certificate. Integrated Gradients and gradient x input (in the full run) show it most
clearly: they multiply by the input, so the digits' zero background is zero in every map and
their `spearman_abs` stays near 0.9 at every step — they fail the absolute-rank check — while
their signed Spearman and SSIM drop to about 0."""),
]

NOTEBOOKS["07_text_classifier"] = [
    ("md", """# Explaining a text classifier: which words make a review positive?

Token ids are integers: a model cannot be differentiated with respect to them. `vis.explain`
takes the gradient at the output of the `Embedding` layer the ids feed instead, and gives **one
value per token** `(N, T)` (or the raw `(N, T, D)` maps with `keepdims=True`). This notebook
builds a toy review dataset (no download: sentences drawn from a small vocabulary with a seeded
generator), trains an `Embedding + GRU` sentiment classifier for a few seconds, explains it with
the gradient, gradient x input and Integrated Gradients, and checks that the sentiment words —
and only they — get the attribution."""),
    ("code", SETUP),
    ("md", """## A toy review dataset

Reviews are a few neutral words with zero to three sentiment phrases inserted: a word of the
review's polarity (*great*, *boring*) or, three times in ten, a negated word of the opposite
polarity (*not boring* in a positive review). The label depends on the sentiment words only
(a review without any gets a coin-flip label, so the model learns that neutral words say
nothing), so we know what a faithful explanation must highlight. Id 0 is the padding (at the
front)."""),
    ("code", '''PAD, NOT = "<pad>", "not"
POSITIVE = ["great", "wonderful", "excellent", "superb", "loved", "enjoyable", "brilliant", "fun"]
NEGATIVE = ["awful", "boring", "terrible", "dull", "hated", "worst", "bad", "poor"]
NEUTRAL = ["the", "movie", "film", "plot", "acting", "cast", "story", "ending", "music", "was",
           "is", "and", "a", "it", "this", "with", "of", "really", "quite", "director", "scenes",
           "characters", "i", "found", "we", "saw", "on", "friday", "its", "two", "hours"]
WORDS = [PAD, NOT] + POSITIVE + NEGATIVE + NEUTRAL    # the vocabulary: id -> word
ID = {w: i for i, w in enumerate(WORDS)}
T = 24                                                # sequence length (padded)


def make_reviews(n, seed):
    """n padded reviews (ids, shape (n, T)) and their labels (1 = positive)."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, T), "int32")
    labels = rng.integers(0, 2, n)
    for i, label in enumerate(labels):
        phrases = [[w] for w in rng.choice(NEUTRAL, rng.integers(5, 13))]
        for _ in range(rng.integers(0, 4)):           # 0: no sentiment, a coin-flip label
            if rng.random() < 0.3:                    # "not" + a word of the other polarity
                phrase = [NOT, rng.choice(NEGATIVE if label else POSITIVE)]
            else:
                phrase = [rng.choice(POSITIVE if label else NEGATIVE)]
            phrases.insert(rng.integers(0, len(phrases) + 1), phrase)
        words = [w for phrase in phrases for w in phrase]
        ids[i, T - len(words):] = [ID[w] for w in words]
    return ids, labels


def text(ids):
    return " ".join(WORDS[k] for k in ids if k != 0)


x_train, y_train = make_reviews(3000 if FAST else 8000, seed=0)
x_test, y_test = make_reviews(500, seed=1)
for ids, label in zip(x_test[:4], y_test[:4]):
    print(f"{'positive' if label else 'negative'}: {text(ids)}")'''),
    ("md", """## The classifier

An `Embedding` (ids -> 16-d vectors), a `GRU` and a softmax over {negative, positive}."""),
    ("code", '''import keras

keras.utils.set_random_seed(0)
tokens = keras.Input((T,), dtype="int32", name="tokens")
h = keras.layers.Embedding(len(WORDS), 16, name="embedding")(tokens)
h = keras.layers.GRU(16, name="gru")(h)
outputs = keras.layers.Dense(2, activation="softmax", name="sentiment")(h)
model = keras.Model(tokens, outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x_train, y_train, epochs=3 if FAST else 8, batch_size=64, verbose=0)
probs = model.predict(x_test, verbose=0)
has_sentiment = np.isin(x_test, [ID[w] for w in POSITIVE + NEGATIVE]).any(axis=1)
correct = probs.argmax(-1) == y_test
print(f"test accuracy: {correct[has_sentiment].mean():.3f} on reviews with sentiment words, "
      f"{correct[~has_sentiment].mean():.3f} on the coin flips")'''),
    ("md", """## Three methods on token inputs

We explain the score of the class *positive* (1) for every review, so words that push towards
*positive* get positive values and words that push towards *negative* get negative ones.
The embedding axis is reduced as each method's `token_reduction` says:

- saliency-type methods (`gradient`, `smoothgrad`, guided backprop): `max_abs`, the largest
  |gradient| over the embedding axis, a non-negative *sensitivity*;
- attributions (`gradient_x_input`, `integrated_gradients`): `sum`, signed, and for IG the
  values of a review add up to the change of its logit.

Integrated Gradients interpolates in embedding space, from the embedding of `baseline_token`
(here 0, the padding id: "an empty review") to the review's embeddings."""),
    ("code", '''import vis

steps = 32 if FAST else 128
maps = {
    "gradient": vis.explain(model, x_test, "gradient", 1),
    "gradient_x_input": vis.explain(model, x_test, "gradient_x_input", 1),
    "integrated_gradients": vis.explain(model, x_test, "integrated_gradients", 1,
                                        baseline_token=0, steps=steps),
}
for name, m in maps.items():
    print(f"{name:>21}: shape {m.shape}, token_reduction={vis.methods.get(name).token_reduction!r}")'''),
    ("code", '''from vis.utils import plot_tokens

shown = [0, 1, 2, 5]
fig, axes = plt.subplots(len(shown), 3, figsize=(15, 0.75 * len(shown) + 0.4))
fig.subplots_adjust(left=0.06, right=0.99, top=0.92, bottom=0.01, wspace=0.04, hspace=0.15)
for r, i in enumerate(shown):
    for c, (name, m) in enumerate(maps.items()):
        label = "positive" if y_test[i] else "negative"
        plot_tokens(x_test[i], m[i], ax=axes[r, c], vocabulary=WORDS, skip=[0], width=48,
                    signed=name != "gradient", fontsize=9)  # after the layout: fits the axes
        if r == 0:
            axes[r, c].set_title(name, fontsize=11)
    axes[r, 0].text(-1.0, 0.5, f"{label}\\np={probs[i, 1]:.2f}", ha="right", va="center",
                    fontsize=9)'''),
    ("md", """Red: pushes towards *positive*, blue: towards *negative* (the gradient column is a
magnitude: darker = more sensitive). The gradient is spread over neutral words too — it measures
how much the score *would* change, not what the words *did*; gradient x input and IG put
their mass on the sentiment words.

## Do the sentiment words get the attribution?

The share of the total |attribution| of the test reviews that falls on sentiment words and
negations, next to their share of the tokens:"""),
    ("code", '''real = x_test > 0
polar = np.isin(x_test, [ID[w] for w in POSITIVE + NEGATIVE + [NOT]])
print(f"sentiment words and 'not' are {polar.sum() / real.sum():.0%} of the tokens")
for name, m in maps.items():
    share = np.abs(m)[polar].sum() / np.abs(m)[real].sum()
    print(f"{name:>21}: {share:.0%} of the |attribution|")'''),
    ("code", '''ig = maps["integrated_gradients"]
after_not = np.zeros_like(real)
after_not[:, 1:] = x_test[:, :-1] == ID[NOT]
kinds = {
    "positive word": np.isin(x_test, [ID[w] for w in POSITIVE]) & ~after_not,
    "negative word": np.isin(x_test, [ID[w] for w in NEGATIVE]) & ~after_not,
    "not": x_test == ID[NOT],
    "not + positive word": np.isin(x_test, [ID[w] for w in POSITIVE]) & after_not,
    "not + negative word": np.isin(x_test, [ID[w] for w in NEGATIVE]) & after_not,
    "neutral word": real & ~polar,
}
print("mean IG towards 'positive', by kind of token:")
for kind, where in kinds.items():
    print(f"{kind:>20}: {ig[where].mean():+.3f}   ({where.sum()} tokens)")'''),
    ("md", """Positive words push towards *positive* and negative words away from it, and neutral words get
almost nothing. After a *not* the negated word's contribution changes: the GRU has learned the
negation, and IG shares the phrase's effect between *not* and the word. IG's values are always
relative to the baseline, here the all-padding review, whose own score is printed below: this
model never saw an empty review, and if it finds it far from neutral, the attributions explain
the difference from a review it already finds positive (or negative). Another `baseline_token`,
or the zero embedding (`baseline_token=None`), gives another reference.

## Completeness of Integrated Gradients

With `baseline_token=0` the attributions of a review sum to the difference of the *positive*
logit between the review and the all-padding review (up to the quadrature error)."""),
    ("code", '''features = keras.Model(model.input, model.get_layer("gru").output)
kernel, bias = model.get_layer("sentiment").get_weights()


def logit(ids):
    return (features.predict(ids, verbose=0) @ kernel + bias)[:, 1]


padding = np.zeros_like(x_test[:1])
print(f"the all-padding review: p(positive) = {model.predict(padding, verbose=0)[0, 1]:.2f}")
expected = logit(x_test) - logit(np.zeros_like(x_test))
error = np.abs(ig.sum(axis=1) - expected)
print(f"max |sum(IG) - (f(x) - f(padding))| = {error.max():.4f}  "
      f"(the logit differences are {np.abs(expected).mean():.2f} on average)")'''),
    ("md", """## In a notebook: `tokens_html`

`tokens_html` writes the same colours as an HTML snippet (hover a word for its value), for
`IPython.display.HTML`. Tokens are HTML-escaped."""),
    ("code", '''from IPython.display import HTML

from vis.utils import tokens_html

vmax = np.abs(ig[shown]).max()                          # one colour scale for all rows
HTML("<br>".join(tokens_html(x_test[i], ig[i], vocabulary=WORDS, skip=[0], vmax=vmax)
                 for i in shown))'''),
    ("md", """## The raw maps: `keepdims=True`

The per-token values are reductions of `(N, T, D)` maps over the embedding axis; `keepdims=True`
returns those maps, e.g. to use another reduction (the L2 norm of the gradient)."""),
    ("code", '''raw_grad = vis.explain(model, x_test, "gradient", 1, keepdims=True)
raw_gxi = vis.explain(model, x_test, "gradient_x_input", 1, keepdims=True)
print("raw shapes:", raw_grad.shape, raw_gxi.shape)
assert np.allclose(np.abs(raw_grad).max(-1), maps["gradient"])
assert np.allclose(raw_gxi.sum(-1), maps["gradient_x_input"], atol=1e-5)
l2 = np.linalg.norm(raw_grad, axis=-1)                 # another reduction
print("L2-norm saliency of the first review:", l2[0][x_test[0] > 0].round(2))'''),
    ("md", """`smooth=` (SmoothGrad, VarGrad) adds noise to the inputs: integer ids cannot take it, so a
model whose only input is token ids refuses it with a clear error. More on token inputs (which
methods reduce how, masks, Grad-CAM on `Conv1D` layers) in the guide *Explaining any model*."""),
]

NOTEBOOKS["08_two_input_model"] = [
    ("md", """# Two inputs, two outputs: an image with metadata

Real models often take more than an image: a scan and the patient's record, a product photo and
its price. This notebook builds such a model on the bundled 8x8 digits: the **image** plus a
**metadata** vector (two informative features per head, three pure-noise features), and two
heads: the digit **class** and a **regression** score. `vis.explain` takes the inputs as a list,
a tuple or a dict (keyed by input name) and returns one map per input in the same structure;
`output=` picks the head."""),
    ("code", SETUP),
    ("md", """## Data

- `even_hint`: +1 for even digits, -1 for odd ones, plus noise — it helps the **class** head;
- `dose`, `age`: the **regression** target is `1.5 dose - age + 0.3 (digit - 4.5) / 2.9` plus a
  little noise (so the image matters for it too, a little);
- `noise_1`, `noise_2`, `noise_3`: independent of everything."""),
    ("code", '''from vis.utils.digits import load_digits

FEATURES = ["even_hint", "dose", "age", "noise_1", "noise_2", "noise_3"]


def make_meta(digits, seed):
    rng = np.random.default_rng(seed)
    meta = rng.normal(size=(len(digits), len(FEATURES))).astype("float32")
    meta[:, 0] = np.where(digits % 2 == 0, 1.0, -1.0) + rng.normal(0, 0.5, len(digits))
    score = 1.5 * meta[:, 1] - meta[:, 2] + 0.3 * (digits - 4.5) / 2.9
    return meta, (score + rng.normal(0, 0.05, len(digits))).astype("float32")


(img_train, y_train), (img_test, y_test) = load_digits(seed=0)
meta_train, score_train = make_meta(y_train, seed=0)
meta_test, score_test = make_meta(y_test, seed=1)
print("images", img_train.shape, "metadata", meta_train.shape, "scores", score_train.shape)'''),
    ("md", """## The model

A small CNN for the image, a dense layer for the metadata, a joint layer, and two named heads."""),
    ("code", '''import keras

keras.utils.set_random_seed(0)
image = keras.Input((8, 8, 1), name="image")
meta = keras.Input((len(FEATURES),), name="meta")
h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(image)
h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(h)
h = keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(h))
m = keras.layers.Dense(16, activation="relu", name="meta_dense")(meta)
z = keras.layers.Dense(64, activation="relu", name="joint")(keras.layers.Concatenate()([h, m]))
class_head = keras.layers.Dense(10, activation="softmax", name="class_head")(z)
reg_head = keras.layers.Dense(1, name="reg_head")(z)
model = keras.Model([image, meta], [class_head, reg_head])
model.compile(optimizer=keras.optimizers.Adam(3e-3),
              loss=["sparse_categorical_crossentropy", "mse"])
model.fit([img_train, meta_train], [y_train, score_train], epochs=8 if FAST else 25,
          batch_size=32, verbose=0)
probs, pred_score = model.predict([img_test, meta_test], verbose=0)
print(f"class accuracy: {(probs.argmax(-1) == y_test).mean():.3f}")
print(f"score MAE: {np.abs(pred_score[:, 0] - score_test).mean():.3f} "
      f"(the scores' std is {score_test.std():.2f})")'''),
    ("md", """## One map per input

A list in, a list out: `[image maps (N, 8, 8, 1), metadata maps (N, 6)]`. `output="class_head"`
explains the class head's *logit* of each digit's label (the softmax is skipped);
`output="reg_head"` explains the regression output itself."""),
    ("code", '''import vis

idx = np.array([np.flatnonzero(y_test == d)[0] for d in range(8)])  # digits 0 to 7
x, y = [img_test[idx], meta_test[idx]], y_test[idx]
grad_image, grad_meta = vis.explain(model, x, "gradient", y, output="class_head")
print("gradient:", grad_image.shape, grad_meta.shape)

# a dict in, a dict out (keys: the model's input names)
ig_class = vis.explain(model, {"image": img_test[idx], "meta": meta_test[idx]},
                       "integrated_gradients", y, output="class_head", steps=32 if FAST else 128)
print("IG:", {k: v.shape for k, v in ig_class.items()})'''),
    ("md", """## Completeness over both inputs

Integrated Gradients interpolates *every* input from its baseline together (zeros by default: a
black image and the mean of the standardized metadata), so the attributions of both inputs
together sum to the change of the score. The share of each input says how much of the decision
came from the image and how much from the metadata."""),
    ("code", '''joint = keras.Model(model.inputs, model.get_layer("joint").output)
kernel, bias = model.get_layer("class_head").get_weights()


def class_logit(inputs, labels):
    return (joint.predict(inputs, verbose=0) @ kernel + bias)[np.arange(len(labels)), labels]


zeros = [np.zeros_like(a) for a in x]
expected = class_logit(x, y) - class_logit(zeros, y)
from_image = ig_class["image"].reshape(len(y), -1).sum(axis=1)
from_meta = ig_class["meta"].sum(axis=1)
for i in range(len(y)):
    print(f"digit {y[i]}: image {from_image[i]:+7.3f} + meta {from_meta[i]:+7.3f} = "
          f"{from_image[i] + from_meta[i]:+7.3f}   f(x) - f(0) = {expected[i]:+7.3f}")'''),
    ("md", """## Which metadata features matter, per head?

`plot_features` draws one sample's signed attributions (sorted by magnitude), or a summary such
as the mean |IG| over the test set."""),
    ("code", '''from vis.utils import plot_features

steps = 32 if FAST else 128
xs, ys = [img_test, meta_test], y_test
ig_cls_all = vis.explain(model, xs, "integrated_gradients", ys, output="class_head", steps=steps)
ig_reg_all = vis.explain(model, xs, "integrated_gradients", 0, output="reg_head", steps=steps)
fig, axes = plt.subplots(1, 3, figsize=(13, 2.8))
plot_features(np.abs(ig_cls_all[1]).mean(0), FEATURES, ax=axes[0],
              title="class head: mean |IG| per feature")
plot_features(np.abs(ig_reg_all[1]).mean(0), FEATURES, ax=axes[1],
              title="regression head: mean |IG| per feature")
plot_features(ig_reg_all[1][0], FEATURES, ax=axes[2],
              title=f"regression head, test sample 0 (score {pred_score[0, 0]:+.2f})")
fig.tight_layout()'''),
    ("md", """The class head leans on `even_hint`, the regression head on `dose` and `age` (with the signs
of the target's formula: `dose` up, `age` down), and the noise features get little of either.
For the regression head the image's share is small, as the target's formula says:"""),
    ("code", '''f = pred_score[:, 0]
f0 = model.predict([np.zeros_like(a) for a in xs], verbose=0)[1][:, 0]
total = ig_reg_all[0].reshape(len(f), -1).sum(1) + ig_reg_all[1].sum(1)
print(f"regression head, completeness: max |sum(IG) - (f(x) - f(0))| = {np.abs(total - (f - f0)).max():.4f}")
for name, part in (("image", ig_reg_all[0].reshape(len(f), -1)), ("meta", ig_reg_all[1])):
    print(f"mean |IG| in the {name:>5}: regression {np.abs(part.sum(1)).mean():.3f}   "
          f"class {np.abs(ig_cls_all[0 if name == 'image' else 1].reshape(len(f), -1).sum(1)).mean():.3f}")'''),
    ("md", """## The image maps

The image maps of both heads, and Grad-CAM on `conv2`: a CAM map refers to the input whose rank
matches the feature maps' (here the image, `(N, 8, 8)`), so it comes back as one array, not a
list."""),
    ("code", '''cam = vis.explain(model, x, "gradcam", y, output="class_head", layer="conv2")
print("Grad-CAM:", type(cam).__name__, cam.shape)
rows = [("input", x[0][..., 0], "gray"), ("IG, class head", ig_class["image"][..., 0], "RdBu_r"),
        ("IG, regression head", ig_reg_all[0][idx, ..., 0], "RdBu_r"),
        ("Grad-CAM, class head", cam, "inferno")]
fig, axes = plt.subplots(len(rows), 8, figsize=(10, 5.4))
for r, (name, maps_, cmap) in enumerate(rows):
    for c in range(8):
        m = maps_[c]
        lim = np.abs(m).max() or 1.0
        kwargs = dict(vmin=-lim, vmax=lim) if cmap == "RdBu_r" else {}
        axes[r, c].imshow(m, cmap=cmap, **kwargs)
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
        if r == 0:
            axes[r, c].set_title(f"digit {y[c]}", fontsize=8)
    axes[r, 0].set_ylabel(name, fontsize=8)
fig.tight_layout()'''),
]

NOTEBOOKS["09_time_series_classifier"] = [
    ("md", """# Where in the series is the evidence? A `Conv1D` time-series classifier

Each series has two channels: a noisy **sensor** that carries a short **bump** (class *bump*), a
**dip** (class *dip*) or neither (class *none*) at a random time, and a **reference** channel
(a sine with a random phase) that carries nothing about the class. A small `Conv1D` network
classifies them; the gradient, Integrated Gradients and a 1-D Grad-CAM should all point at the
bump — on the sensor channel, not on the reference. Everything is generated with a seeded
generator: no download."""),
    ("code", SETUP),
    ("code", '''T, WIDTH = 64, 2.0                                   # length, bump width (std, in steps)
CLASSES = ["none", "bump", "dip"]


def make_series(n, seed):
    """(n, T, 2) series, labels, and the centre of each bump or dip."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    noise = np.zeros((n, T))
    for k in range(1, T):                              # AR(1) sensor noise
        noise[:, k] = 0.7 * noise[:, k - 1] + rng.normal(0, 0.3, n)
    labels = rng.integers(0, 3, n)
    centres = rng.uniform(8, T - 8, n)
    shape = np.exp(-((t[None] - centres[:, None]) ** 2) / (2 * WIDTH**2))
    sensor = noise + 2.0 * shape * np.select([labels == 1, labels == 2], [1.0, -1.0])[:, None]
    phase = rng.uniform(0, 2 * np.pi, n)
    reference = 0.8 * np.sin(2 * np.pi * t[None] / 16 + phase[:, None]) + rng.normal(0, 0.2, (n, T))
    return np.stack([sensor, reference], axis=-1).astype("float32"), labels, centres


x_train, y_train, _ = make_series(3000 if FAST else 8000, seed=0)
x_test, y_test, c_test = make_series(300, seed=1)
fig, axes = plt.subplots(1, 3, figsize=(11, 2.2), sharey=True)
for ax, k in zip(axes, range(3)):
    i = np.flatnonzero(y_test == k)[0]
    ax.plot(x_test[i, :, 0], label="sensor")
    ax.plot(x_test[i, :, 1], label="reference", alpha=0.7)
    ax.set_title(CLASSES[k], fontsize=9)
axes[0].legend(fontsize=8)
fig.tight_layout()'''),
    ("code", '''import keras

keras.utils.set_random_seed(0)
inputs = keras.Input((T, 2), name="series")
h = keras.layers.Conv1D(16, 7, padding="same", activation="relu", name="conv1")(inputs)
h = keras.layers.MaxPooling1D(2, name="pool")(h)
h = keras.layers.Conv1D(32, 5, padding="same", activation="relu", name="conv2")(h)
h = keras.layers.GlobalMaxPooling1D(name="gmp")(h)
outputs = keras.layers.Dense(3, activation="softmax", name="classes")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x_train, y_train, epochs=5 if FAST else 15, batch_size=64, verbose=0)
probs = model.predict(x_test, verbose=0)
print(f"test accuracy: {(probs.argmax(-1) == y_test).mean():.3f}")'''),
    ("md", """## Three maps

- `gradient` and `integrated_gradients` (from a flat, all-zero series) have the input's shape
  `(N, T, 2)`: one value per time step *and* channel;
- `gradcam` on `conv2` weights its 32 feature maps (`(N, 32, 32)`: the pooled time axis) by their
  mean gradient, and upsamples the result linearly to the input's length: `(N, T)`, one value per
  time step, shared by the channels."""),
    ("code", '''import vis

grads = vis.explain(model, x_test, "gradient", y_test)
ig = vis.explain(model, x_test, "integrated_gradients", y_test, steps=32 if FAST else 128)
cam = vis.explain(model, x_test, "gradcam", y_test, layer="conv2")
print("gradient", grads.shape, " IG", ig.shape, " Grad-CAM", cam.shape)'''),
    ("code", '''from vis.utils import plot_series

for k in (1, 2):
    i = np.flatnonzero(y_test == k)[0]
    fig, axes = plt.subplots(3, 1, figsize=(8, 4.2), sharex=True)
    plot_series(x_test[i], ig[i], ax=axes[:2], feature_names=["sensor", "reference"])
    fig.colorbar(axes[0].images[0], ax=axes[:2], label="IG", fraction=0.04, pad=0.01)
    plot_series(x_test[i], cam[i], ax=axes[2], signed=False,
                feature_names=["sensor", "reference"])
    fig.colorbar(axes[2].images[0], ax=axes[2], label="Grad-CAM", fraction=0.04, pad=0.01)
    for ax in axes:
        ax.axvline(c_test[i], color="k", ls=":", lw=1)
    axes[0].set_title(f"class {CLASSES[k]} (p={probs[i, k]:.2f}); the dotted line is the "
                      f"{CLASSES[k]}'s centre", fontsize=10)'''),
    ("md", """## Is the evidence where the bump is?

For every *bump* and *dip* series of the test set: the share of each map's total |value| that
falls within 2 widths of the bump's centre, the share on the reference channel, and how far
Grad-CAM's peak is from the centre."""),
    ("code", '''t = np.arange(T)
events = np.flatnonzero(y_test > 0)
window = np.abs(t[None] - c_test[events, None]) <= 2 * WIDTH     # (n, T)
print(f"the window covers {window.mean():.0%} of the time steps")
for name, m in (("gradient", grads), ("integrated_gradients", ig)):
    mag = np.abs(m[events])                                      # (n, T, 2)
    in_window = (mag.sum(-1) * window).sum() / mag.sum()
    on_reference = mag[..., 1].sum() / mag.sum()
    print(f"{name:>21}: {in_window:.0%} in the window, {on_reference:.0%} on the reference channel")
in_window = (cam[events] * window).sum() / cam[events].sum()
peak_error = np.abs(cam[events].argmax(1) - c_test[events])
print(f"{'gradcam':>21}: {in_window:.0%} in the window, peak {np.median(peak_error):.1f} steps "
      "from the centre (median)")'''),
    ("md", """## Completeness and the sign of IG

IG's values of a series sum to the change of its class logit from the flat series. On the
sensor, a *bump* series gets positive attributions on the bump, a *dip* series... also positive
ones: both raise their own class's score — the sign says "pushes towards the explained class",
not "the signal goes up"."""),
    ("code", '''features = keras.Model(model.input, model.get_layer("gmp").output)
kernel, bias = model.get_layer("classes").get_weights()


def logit(series, labels):
    return (features.predict(series, verbose=0) @ kernel + bias)[np.arange(len(labels)), labels]


expected = logit(x_test, y_test) - logit(np.zeros_like(x_test), y_test)
error = np.abs(ig.reshape(len(ig), -1).sum(1) - expected)
print(f"max |sum(IG) - (f(x) - f(flat))| = {error.max():.4f} "
      f"(|f(x) - f(flat)| is {np.abs(expected).mean():.2f} on average)")
for k in (1, 2):
    sel = events[y_test[events] == k]
    win = np.abs(t[None] - c_test[sel, None]) <= 2 * WIDTH
    print(f"{CLASSES[k]:>5} series: mean IG on the sensor in the window {ig[sel, :, 0][win].mean():+.3f}")'''),
]


def build(name: str, cells: list[tuple[str, str]]):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in cells:
        cell = (nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell)(source)
        nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):  # stable ids: no spurious diffs between rebuilds
        cell["id"] = f"{name[:2]}-{i:02d}"
    return nb


def execute(nb, fast: bool, timeout: int = 600):
    from nbclient import NotebookClient

    env_fast = os.environ.get("VIS_FAST")
    os.environ["VIS_FAST"] = "1" if fast else "0"
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL")}
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), saved["PYTHONPATH"] or "") if p)
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(HERE)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if env_fast is None:
            os.environ.pop("VIS_FAST", None)
        else:
            os.environ["VIS_FAST"] = env_fast
    _drop_banners(nb)
    return nb


_BANNERS = ("WARNING: All log messages before absl::InitializeLog()", "oneDNN custom operations",
            "cpu_feature_guard", "To enable the following instructions")


def _drop_banners(nb) -> None:
    """Removes TensorFlow's C++ start-up banners (printed whatever TF_CPP_MIN_LOG_LEVEL says)."""
    for cell in nb.cells:
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines = [ln for ln in out["text"].splitlines()
                         if ln.strip() and not any(b in ln for b in _BANNERS)]
                if not lines:
                    continue
                out["text"] = "\n".join(lines) + "\n"
            kept.append(out)
        if cell.get("cell_type") == "code":
            cell["outputs"] = kept


def main(argv=None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="substrings of notebook names to build")
    parser.add_argument("--fast", action="store_true", help="execute with VIS_FAST=1")
    parser.add_argument("--no-run", action="store_true", help="write without executing")
    args = parser.parse_args(argv)
    for name, cells in NOTEBOOKS.items():
        if args.only and not any(s in name for s in args.only):
            continue
        nb = build(name, cells)
        t0 = time.perf_counter()
        if not args.no_run:
            execute(nb, args.fast)
        path = HERE / f"{name}.ipynb"
        nbformat.write(nb, path)
        print(f"{path.relative_to(REPO)}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
