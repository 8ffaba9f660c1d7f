"""Independent NumPy references for the pattern tests (explicit loops, float64).

Patch extraction, pattern estimators, and the PatternNet / LRP backward passes of a small
conv -> max-pool -> dense network, written from the paper's and the reference toolbox's formulas
without TensorFlow.
"""

import itertools

import numpy as np


def _pad_amounts(size, k, stride, dilation, padding):
    k_eff = (k - 1) * dilation + 1
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + k_eff - size, 0)
        return out, total // 2
    return -(-(size - k_eff + 1) // stride), 0


def patches_nd(x, k, strides, dilation, padding="valid"):
    """`(n * prod(out), prod(k) * c)` input patches of a channels-last N-d convolution."""
    n, *spatial, c = x.shape
    geo = [_pad_amounts(size, kk, s, d, padding)
           for size, kk, s, d in zip(spatial, k, strides, dilation)]
    rows = []
    for b in range(n):
        for out_pos in itertools.product(*[range(o) for o, _ in geo]):
            patch = np.zeros(tuple(k) + (c,))
            for offs in itertools.product(*[range(kk) for kk in k]):
                src = [o * s + f * d - p for o, s, f, d, (_, p)
                       in zip(out_pos, strides, offs, dilation, geo)]
                if all(0 <= r < size for r, size in zip(src, spatial)):
                    patch[offs] = x[(b, *src)]
            rows.append(patch.ravel())
    return np.array(rows)


def patches_2d(x, k, strides=(1, 1), dilation=(1, 1), padding="valid"):
    """`(n * oh * ow, kh * kw * c)` input patches of a channels-last 2-D convolution."""
    return patches_nd(x, k, strides, dilation, padding)


def patches_1d(x, k, stride=1, dilation=1, padding="valid"):
    """`(n * ol, k * c)` input patches of a channels-last 1-D convolution (causal included)."""
    n, _, c = x.shape
    if padding == "causal":
        x = np.concatenate([np.zeros((n, (k - 1) * dilation, c)), x], axis=1)
        padding = "valid"
    return patches_2d(x[:, None], (1, k), (1, stride), (1, dilation), padding)


def patterns(x_rows, kernel_2d, mask=None, regime="pos"):
    """Reference-implementation patterns from sample rows (float64).

    `mask=None`: linear estimator; otherwise the two-component pattern of the regime
    (`'pos'`: mask > 0 samples, `'neg'`: the others), `E[y]` over all samples.
    """
    x = np.asarray(x_rows, dtype="float64")
    w = np.asarray(kernel_2d, dtype="float64")
    y = x @ w
    if mask is None:
        sel = np.ones_like(y, dtype=bool)
    else:
        sel = mask > 0 if regime == "pos" else ~(mask > 0)
    ey = y.mean(axis=0)
    a = np.zeros_like(w)
    for j in range(w.shape[1]):
        s = sel[:, j]
        if s.sum() == 0:
            num = np.zeros(w.shape[0])
        else:
            ex = x[s].mean(axis=0)
            exy = (x[s] * y[s, j][:, None]).mean(axis=0)
            num = exy - ex * ey[j]
        den = w[:, j] @ num
        a[:, j] = num / (den if den != 0 else 1.0)
    return a


def filter_patterns(kernel_2d):
    w = np.asarray(kernel_2d, dtype="float64")
    return w / np.sum(w * w, axis=0)


# --- a small net: conv3x3 'same' (relu) -> maxpool 2 -> flatten -> dense (relu) -> dense -----


def conv_same(x, kernel, bias):
    """`x` (h, w, cin), kernel (3, 3, cin, cout), 'same' padding, stride 1 (one sample)."""
    h, w, _ = x.shape
    rows = patches_2d(x[None], (3, 3), padding="same")
    out = (rows @ kernel.reshape(-1, kernel.shape[-1])).reshape(h, w, -1)
    return out + bias


def conv_same_backward(g, kernel, x_shape):
    """Input-gradient of `conv_same` for output gradient `g` (h, w, cout), by loops."""
    h, w, cin = x_shape
    gin = np.zeros(x_shape)
    for i in range(h):
        for j in range(w):
            for di in range(3):
                for dj in range(3):
                    r, s = i + di - 1, j + dj - 1
                    if 0 <= r < h and 0 <= s < w:
                        gin[r, s] += kernel[di, dj] @ g[i, j]
    return gin


def maxpool2(x):
    """2x2 max-pool (stride 2) and the row-major first arg-max of each window."""
    h, w, c = x.shape
    out = np.zeros((h // 2, w // 2, c))
    arg = np.zeros((h // 2, w // 2, c, 2), dtype=int)
    for i in range(h // 2):
        for j in range(w // 2):
            for ch in range(c):
                win = x[2 * i:2 * i + 2, 2 * j:2 * j + 2, ch]
                a = np.argmax(win)
                out[i, j, ch] = win.ravel()[a]
                arg[i, j, ch] = (2 * i + a // 2, 2 * j + a % 2)
    return out, arg


def maxpool2_backward(g, arg, x_shape):
    gin = np.zeros(x_shape)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            for ch in range(g.shape[2]):
                r, s = arg[i, j, ch]
                gin[r, s, ch] += g[i, j, ch]
    return gin


def forward(x, weights):
    """Forward of the small net for one sample; returns the intermediate values."""
    k1, b1, w2, b2, w3, b3 = weights
    z1 = conv_same(x, k1, b1)
    a1 = np.maximum(z1, 0)
    p, arg = maxpool2(a1)
    f = p.ravel()
    z2 = f @ w2 + b2
    a2 = np.maximum(z2, 0)
    z3 = a2 @ w3 + b3
    return {"x": x, "z1": z1, "a1": a1, "arg": arg, "p": p, "f": f, "z2": z2, "a2": a2, "z3": z3}


def patternnet(x, weights, backs, k):
    """PatternNet-style backward of the small net with back-projection kernels `backs`."""
    v = forward(x, weights)
    bk1, bw2, bw3 = backs
    r = np.zeros_like(v["z3"])
    r[k] = v["z3"][k]
    g = bw3 @ r
    g = g * (v["z2"] > 0)
    g = bw2 @ g
    g = maxpool2_backward(g.reshape(v["p"].shape), v["arg"], v["a1"].shape)
    g = g * (v["z1"] > 0)
    return conv_same_backward(g, bk1, x.shape)


def _lrp_dense(x, w, b, r, rule, eps, alpha, beta):
    if rule == "epsilon":
        z = x @ w + b
        s = r / (z + eps * np.where(z >= 0, 1.0, -1.0))
        return x * (w @ s)
    xp, xn = np.maximum(x, 0), np.minimum(x, 0)
    wp, wn = np.maximum(w, 0), np.minimum(w, 0)

    def part(w1, w2):
        z = xp @ w1 + xn @ w2 + b
        s = r / np.where(z == 0, 1.0, z)
        return xp * (w1 @ s) + xn * (w2 @ s)

    out = part(wp, wn)
    if beta:
        out = alpha * out - beta * part(wn, wp)
    return out


def lrp(x, weights, k, rule="epsilon", eps=1e-7, alpha=1.0, beta=0.0):
    """LRP of the small net for output `k` (relevance starts at `z3[k]`)."""
    k1, b1, w2, b2, w3, b3 = weights
    v = forward(x, weights)
    r = np.zeros_like(v["z3"])
    r[k] = v["z3"][k]
    r = _lrp_dense(v["a2"], w3, b3, r, rule, eps, alpha, beta)
    r = _lrp_dense(v["f"], w2, b2, r, rule, eps, alpha, beta)
    r = maxpool2_backward(r.reshape(v["p"].shape), v["arg"], v["a1"].shape)
    # the conv layer as a dense map from the flattened input to every (position, filter)
    h, w, cin = x.shape
    rows = patches_2d(x[None], (3, 3), padding="same")  # (h*w, 9*cin)
    kk = k1.reshape(-1, k1.shape[-1])
    rin = np.zeros((h, w, cin))
    for pos in range(h * w):
        i, j = divmod(pos, w)
        rp = _lrp_dense(rows[pos], kk, b1, r[i, j], rule, eps, alpha, beta).reshape(3, 3, cin)
        for di in range(3):
            for dj in range(3):
                a, b = i + di - 1, j + dj - 1
                if 0 <= a < h and 0 <= b < w:
                    rin[a, b] += rp[di, dj]
    return rin


def small_net(seed=0, bias=True, softmax=False, input_shape=(6, 6, 1)):
    """The Keras twin of `forward` with random weights: `(model, weights as float64 arrays)`."""
    import keras

    inp = keras.Input(input_shape)
    h = keras.layers.Conv2D(2, 3, padding="same", activation="relu", use_bias=bias, name="conv")(inp)
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.Flatten(name="flat")(h)
    h = keras.layers.Dense(4, activation="relu", use_bias=bias, name="hidden")(h)
    out = keras.layers.Dense(3, activation="softmax" if softmax else None, use_bias=bias,
                             name="logits")(h)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.1, 0.5, w.shape).astype("float32")
                       for w in model.get_weights()])
    weights = [np.asarray(w, dtype="float64") for w in model.get_weights()]
    if not bias:
        weights = [weights[0], np.zeros(2), weights[1], np.zeros(4), weights[2], np.zeros(3)]
    return model, weights
