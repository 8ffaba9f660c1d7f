"""Fixed-weight models and independent NumPy references for the backend tests (float64).

Backend-neutral on purpose: no TensorFlow, JAX or PyTorch import. Every Keras backend computes
the same maps from the same weights, so each backend is compared with these references (the
same references everywhere), never with numbers stored in the repository.
"""

from __future__ import annotations

import math

import keras
import numpy as np

# --- a small CNN: conv1 (3x3 valid, relu) -> conv2 (2x2 valid, relu) -> dense -> softmax -------


def cnn(seed: int = 0) -> tuple[keras.Model, dict]:
    """`(7, 7, 2)` images -> 4 classes, with seeded weights; returns `(model, params)`."""
    rng = np.random.default_rng(seed)
    params = {
        "K1": rng.normal(0, 0.5, (3, 3, 2, 3)), "b1": rng.normal(0, 0.2, 3),
        "K2": rng.normal(0, 0.5, (2, 2, 3, 4)), "b2": rng.normal(0, 0.2, 4),
        "V": rng.normal(0, 0.3, (4 * 4 * 4, 4)), "bv": rng.normal(0, 0.2, 4),
    }
    params = {k: v.astype("float32") for k, v in params.items()}
    inp = keras.Input((7, 7, 2))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv1")(inp)
    h = keras.layers.Conv2D(4, 2, activation="relu", name="conv2")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    out = keras.layers.Dense(4, activation="softmax", name="probs")(h)
    model = keras.Model(inp, out, name="oracle_cnn")
    model.set_weights([params[k] for k in ("K1", "b1", "K2", "b2", "V", "bv")])
    return model, {k: v.astype("float64") for k, v in params.items()}


def images(n: int = 5, seed: int = 1) -> np.ndarray:
    """`n` float32 images in [0, 1] for `cnn`."""
    return np.random.default_rng(seed).uniform(0, 1, (n, 7, 7, 2)).astype("float32")


def conv(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """'valid' stride-1 cross-correlation of one `(H, W, C)` image with an HWIO kernel."""
    kh, kw, _, co = k.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1, co))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.tensordot(x[i:i + kh, j:j + kw], k, axes=3)
    return out


def conv_backward(g: np.ndarray, k: np.ndarray, in_shape) -> np.ndarray:
    """The gradient w.r.t. the input of `conv`, given the output gradient `g`."""
    kh, kw, _, _ = k.shape
    gx = np.zeros(in_shape)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            gx[i:i + kh, j:j + kw] += np.tensordot(k, g[i, j], axes=([3], [0]))
    return gx


def forward(p: dict, x: np.ndarray) -> dict:
    """Every intermediate value of `cnn` for one image."""
    z1 = conv(x.astype("float64"), p["K1"]) + p["b1"]
    h1 = np.maximum(z1, 0)
    z2 = conv(h1, p["K2"]) + p["b2"]
    h2 = np.maximum(z2, 0)
    return {"z1": z1, "h1": h1, "z2": z2, "h2": h2, "logits": h2.reshape(-1) @ p["V"] + p["bv"]}


_RULES = {
    "vanilla": lambda g, z: g * (z > 0),
    "guided": lambda g, z: np.maximum(g, 0) * (z > 0),
    "deconv": lambda g, z: np.maximum(g, 0),
}


def _backward(p: dict, x: np.ndarray, target: int, rule: str = "vanilla") -> dict:
    f = forward(p, x)
    back = _RULES[rule]
    g_h2 = p["V"][:, target].reshape(f["h2"].shape)
    g_h1 = conv_backward(back(g_h2, f["z2"]), p["K2"], f["h1"].shape)
    g_x = conv_backward(back(g_h1, f["z1"]), p["K1"], x.shape)
    return {"h1": g_h1, "h2": g_h2, "x": g_x}


def input_gradients(p: dict, x: np.ndarray, targets, rule: str = "vanilla") -> np.ndarray:
    """`d logit_t / d x` per image (vanilla), or the guided / deconvnet backward pass."""
    return np.stack([_backward(p, xi, int(t), rule)["x"] for xi, t in zip(x, targets)])


def logits(p: dict, x: np.ndarray) -> np.ndarray:
    """The pre-softmax scores `(N, 4)`."""
    return np.stack([forward(p, xi)["logits"] for xi in x])


def integrated_gradients(p: dict, x: np.ndarray, targets, steps: int) -> np.ndarray:
    """IG from a zero baseline by the trapezoid rule over `linspace(0, 1, steps)`."""
    alphas = np.linspace(0.0, 1.0, steps)
    weights = np.full(steps, 1.0 / (steps - 1))
    weights[[0, -1]] /= 2
    out = []
    for xi, t in zip(x.astype("float64"), targets):
        avg = sum(w * _backward(p, a * xi, int(t))["x"] for a, w in zip(alphas, weights))
        out.append(xi * avg)
    return np.stack(out)


def bilinear_matrix(src: int, dst: int) -> np.ndarray:
    """`(dst, src)` weights of bilinear resizing with half-pixel centres, edges clamped."""
    m = np.zeros((dst, src))
    for i in range(dst):
        c = (i + 0.5) * src / dst - 0.5
        f = math.floor(c)
        lo, hi = max(f, 0), min(math.ceil(c), src - 1)
        m[i, lo] += 1 - (c - f)
        m[i, hi] += c - f
    return m


def grad_cam(p: dict, x: np.ndarray, targets, layer: str = "conv1") -> np.ndarray:
    """Grad-CAM at `layer` ('conv1' or 'conv2'), upsampled bilinearly to 7x7."""
    key = {"conv1": "h1", "conv2": "h2"}[layer]
    out = []
    for xi, t in zip(x, targets):
        a = forward(p, xi)[key]
        g = _backward(p, xi, int(t))[key]
        cam = np.maximum(np.einsum("ijk,k->ij", a, g.mean(axis=(0, 1))), 0)
        rows, cols = bilinear_matrix(cam.shape[0], 7), bilinear_matrix(cam.shape[1], 7)
        out.append(rows @ cam @ cols.T)
    return np.stack(out)


def smoothgrad(p: dict, x: np.ndarray, targets, samples: int, noise: float, seed: int):
    """SmoothGrad as `vis` defines it: one standard-normal draw of `samples` arrays from `seed`,
    scaled per image by `noise * (max - min)`, the mean gradient over the noisy copies."""
    draws = np.random.default_rng(seed).standard_normal((samples,) + x.shape[1:])
    out = []
    for xi, t in zip(x, targets):
        sigma = noise * (xi.max() - xi.min())
        noisy = xi + (draws * sigma).astype("float32")
        out.append(np.mean([_backward(p, n, int(t))["x"] for n in noisy], axis=0))
    return np.stack(out)


# --- dense networks: LRP, patterns, parameter-space saliency --------------------------------


def relu_mlp(seed: int = 2) -> tuple[keras.Model, list[np.ndarray]]:
    """A bias-free ReLU network 6 -> 5 (relu) -> 3; returns `(model, [W1, W2])`."""
    rng = np.random.default_rng(seed)
    w = [rng.normal(0, 0.6, (6, 5)).astype("float32"), rng.normal(0, 0.6, (5, 3)).astype("float32")]
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(5, activation="relu", use_bias=False, name="hidden"),
        keras.layers.Dense(3, use_bias=False, name="out"),
    ], name="relu_mlp")
    model.set_weights(w)
    return model, [v.astype("float64") for v in w]


def lrp_epsilon(weights: list[np.ndarray], x: np.ndarray, targets, epsilon: float):
    """LRP-epsilon relevances of a bias-free ReLU MLP, starting from the target logit."""
    out = []
    for xi, t in zip(x.astype("float64"), targets):
        acts, a = [], xi
        for i, w in enumerate(weights):
            acts.append(a)
            z = a @ w
            a = np.maximum(z, 0) if i < len(weights) - 1 else z
        r = np.zeros_like(a)
        r[int(t)] = a[int(t)]
        for a_in, w in zip(reversed(acts), reversed(weights)):
            z = a_in @ w
            s = r / (z + epsilon * np.where(z >= 0, 1.0, -1.0))
            r = a_in * (w @ s)
        out.append(r)
    return np.stack(out)


def linear_patterns(rows: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The linear estimator `a = cov[x, y] / (w^T cov[x, y])`, `y = w^T x`, per column."""
    rows = rows.astype("float64")
    y = rows @ w
    cov = (rows - rows.mean(0)).T @ (y - y.mean(0)) / len(rows)
    return cov / np.sum(w * cov, axis=0)


def classifier(seed: int = 3) -> tuple[keras.Model, dict]:
    """`(5, 5, 1)` -> Conv2D(2, 3, relu) 'conv' -> Flatten -> Dense(3) 'head' (logits)."""
    rng = np.random.default_rng(seed)
    p = {"K": rng.normal(0, 0.5, (3, 3, 1, 2)), "bk": rng.normal(0, 0.2, 2),
         "V": rng.normal(0, 0.5, (18, 3)), "bv": rng.normal(0, 0.2, 3)}
    p = {k: v.astype("float32") for k, v in p.items()}
    inp = keras.Input((5, 5, 1))
    h = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inp)
    out = keras.layers.Dense(3, name="head")(keras.layers.Flatten()(h))
    model = keras.Model(inp, out, name="pss_classifier")
    model.set_weights([p["K"], p["bk"], p["V"], p["bv"]])
    return model, {k: v.astype("float64") for k, v in p.items()}


def filter_saliency(p: dict, x: np.ndarray, y) -> np.ndarray:
    """Per-sample mean |dL/dW| per filter of `classifier` (cross-entropy from the logits):
    conv filters (mean over the 3x3x1 weights of each), then head units (mean over inputs)."""
    rows = []
    for xi, yi in zip(x.astype("float64"), y):
        z = conv(xi, p["K"]) + p["bk"]
        h = np.maximum(z, 0)
        logit = h.reshape(-1) @ p["V"] + p["bv"]
        prob = np.exp(logit - logit.max())
        prob /= prob.sum()
        g = prob - np.eye(3)[int(yi)]
        d_v = np.outer(h.reshape(-1), g)
        g_z = (p["V"] @ g).reshape(z.shape) * (z > 0)
        d_k = np.zeros_like(p["K"])
        for i in range(3):
            for j in range(3):
                d_k[i, j] = np.tensordot(xi[i:i + 3, j:j + 3], g_z, axes=([0, 1], [0, 1]))
        rows.append(np.concatenate([np.abs(d_k).mean(axis=(0, 1, 2)), np.abs(d_v).mean(axis=0)]))
    return np.stack(rows)
