"""Activation maximization, keras-vis' algorithm: synthesize an input that maximizes a unit.

Erhan et al. 2009; Simonyan et al. 2014 (https://arxiv.org/abs/1312.6034); keras-vis'
`visualize_activation` and its `Optimizer`, step for step:

1. Losses (keras-vis' convention, to *minimize*): `act_max_weight * ActivationMaximization`
   (the negated mean activation of `filter_indices`), `lp_norm_weight * LPNorm(p=6)` and
   `tv_weight * TotalVariation(beta=2)` of the input (see `vis.regularizers`).
2. Start: `seed_input`, or uniform noise standardized to mean `mean(input_range)` and standard
   deviation `0.05 * (high - low)` (keras-vis' `random_array`).
3. Each of `max_iter` steps: the input modifiers' `pre`; the gradient `g` of the weighted loss
   sum, normalized by its root mean square (`g / (sqrt(mean(g^2)) + 1e-7)`); the
   `grad_modifier`; the callbacks; an RMSprop step `x -= lr * g / sqrt(cache + 1e-7)` with
   `cache = 0.95 cache + 0.05 g^2`; the modifiers' `post` (reverse order). The input with the
   lowest loss is kept.
4. Result: keras-vis' `deprocess_input(best, input_range)` (standardized to std 0.1 around the
   middle of the range and clipped); an integer `input_range` gives uint8.

A batch of seeds is optimized sample by sample (each with its own gradient normalization and
best input), i.e. as keras-vis did for each image.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from vis import engine, grad_modifiers
from vis import inputs as _inputs
from vis.callbacks import Print
from vis.losses import ActivationMaximization, Loss
from vis.regularizers import InputRegularizer, LPNorm, TotalVariation
from vis.utils import checks
from vis.utils.model import input_channel_axis
from vis.utils.utils import deprocess_input
from vis.visualization._keras_vis import as_model

__all__ = ["visualize_activation", "visualize_activation_with_losses"]

_EPS = 1e-7
_OPTIMIZER_PARAMS = ("max_iter", "input_modifiers", "grad_modifier", "callbacks", "verbose",
                     "lr", "seed")


def _check_range(input_range) -> tuple:
    try:
        low, high = input_range
        ok = all(not isinstance(v, (bool, np.bool_)) and np.isfinite(float(v))
                 for v in (low, high)) and float(high) > float(low)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"`input_range` must be (low, high) with low < high, got {input_range!r}.")
    return low, high


def _split_losses(losses) -> tuple[list, list]:
    if not isinstance(losses, Sequence) or isinstance(losses, str) or not losses:
        raise TypeError("`losses` must be a non-empty list of (loss, weight) pairs.")
    model_losses, input_losses = [], []
    for item in losses:
        if not (isinstance(item, (tuple, list)) and len(item) == 2
                and isinstance(item[0], (Loss, InputRegularizer))):
            raise TypeError(
                "`losses` items must be (vis.losses.Loss or vis.regularizers.InputRegularizer, "
                f"weight) pairs, got {item!r}."
            )
        weight = item[1]
        if weight is None or (not isinstance(weight, (str, bytes)) and np.ndim(weight) == 0
                              and weight == 0):  # keras-vis: "not used if 0 or None"
            continue
        if not checks.is_real(weight) or not np.isfinite(float(weight)):
            raise ValueError(f"`losses` weight must be a finite number, got {weight!r}.")
        target = input_losses if isinstance(item[0], InputRegularizer) else model_losses
        target.append((item[0], float(weight)))
    return model_losses, input_losses


def _check_modifiers(input_modifiers) -> list:
    mods = list(input_modifiers or [])
    for m in mods:
        if not (callable(getattr(m, "pre", None)) and callable(getattr(m, "post", None))):
            raise TypeError(
                f"`input_modifiers` items must be vis.input_modifiers.InputModifier, got {m!r}."
            )
    return mods


def _check_callbacks(callbacks, verbose) -> list:
    cbs = list(callbacks or [])
    for c in cbs:
        if not callable(getattr(c, "callback", None)):
            raise TypeError(f"`callbacks` items must be vis.callbacks.OptimizerCallback, got {c!r}.")
    if checks.verbose(verbose):
        cbs.append(Print())
    return cbs


def _random_seed(shape: tuple, input_range, rng) -> np.ndarray:
    """keras-vis' `random_array`: uniform noise standardized to the range's mean, 5% std."""
    x = rng.random(shape)
    x = (x - x.mean()) / (x.std() + _EPS)
    return x * (0.05 * (input_range[1] - input_range[0])) + float(np.mean(input_range))


def visualize_activation_with_losses(
    input_tensor,
    losses,
    wrt_tensor=None,
    seed_input=None,
    input_range=(0, 255),
    **optimizer_params,
) -> np.ndarray:
    """Synthesizes the input that minimizes the weighted `losses` (keras-vis API).

    keras-vis' convention: the optimizer *minimizes* `sum(weight * loss)`, and
    `ActivationMaximization` is the negated activation, so a positive weight maximizes it.
    Losses on the model (`vis.losses.Loss`) and on the input (`vis.regularizers.LPNorm`,
    `TotalVariation`) mix freely; a weight of `0` or `None` drops a loss. See the module
    docstring for the optimization, step for step.

    Args:
        input_tensor: The model's input tensor (`model.input`), or the `keras.Model`.
        losses: `(loss, weight)` pairs.
        wrt_tensor: `None` or the model input: keras-vis only updates the input when it is the
            tensor differentiated against, so another layer is refused. Defaults to `None`.
        seed_input: The starting input (one sample or a batch). Defaults to `None`: keras-vis'
            random start (see the module docstring).
        input_range: `(low, high)` of the input; sets the random start and the final
            rescaling. Two ints give a uint8 result. Defaults to `(0, 255)`.
        **optimizer_params: keras-vis' `Optimizer.minimize` options: `max_iter` (default
            `200`), `input_modifiers` (default none), `grad_modifier` (default `None`),
            `callbacks`, `verbose` (default `False`); and vis' `lr` (the RMSprop step's scale,
            default `1.0`, keras-vis' implicit value) and `seed` (of the random start).

    Returns:
        The optimized input(s), deprocessed into `input_range`; one image for no seed, one
        sample or a batch of one.

    Raises:
        ValueError: Bad `input_range`, `max_iter`, `lr`, a `wrt_tensor` other than the input,
            an integer-input model, a loss that becomes NaN or inf, a regularizer, input
            modifier, callback or `grad_modifier` that raises or returns values of another
            shape or NaN / inf (the message names its parameter), or the errors of
            `visualize_saliency`.
        TypeError: Malformed `losses`, modifiers, callbacks, or an unknown optimizer option.

    Example:
        >>> from vis.losses import ActivationMaximization
        >>> from vis.regularizers import LPNorm, TotalVariation
        >>> losses = [(ActivationMaximization(model.layers[-1], 3), 1),
        ...           (LPNorm(model.input), 10), (TotalVariation(model.input), 10)]
        >>> img = visualize_activation_with_losses(model.input, losses, max_iter=50)
    """
    unknown = sorted(set(optimizer_params) - set(_OPTIMIZER_PARAMS))
    if unknown:
        raise TypeError(
            f"Unknown optimizer option(s) {unknown}; valid: {list(_OPTIMIZER_PARAMS)}."
        )
    model_losses, input_losses = _split_losses(losses)
    model = as_model(input_tensor, model_losses)
    return _optimize(model, model_losses, input_losses, wrt_tensor, seed_input, input_range,
                     **optimizer_params)


def _optimize(model, model_losses, input_losses, wrt_tensor, seed_input, input_range, *,
              max_iter: int = 200, input_modifiers=None, grad_modifier=None, callbacks=None,
              verbose: bool = False, lr: float = 1.0, seed: int | None = None,
              backprop_modifier=None) -> np.ndarray:
    input_range = _check_range(input_range)
    max_iter = checks.positive_int(max_iter, "max_iter")
    lr = checks.positive_float(lr, "lr")
    seed = checks.seed(seed)
    modifiers = _check_modifiers(input_modifiers)
    cbs = _check_callbacks(callbacks, verbose)
    modifier_fn = grad_modifiers.checked(grad_modifier)
    if wrt_tensor is not None and engine.resolve_wrt(engine.get_copy(model), wrt_tensor) is not None:
        raise ValueError(
            "`wrt_tensor`: activation maximization updates the model input, so the gradient is "
            "taken w.r.t. the input (keras-vis performs no update for another tensor); use "
            "`visualize_saliency(..., wrt_tensor=...)` for gradients w.r.t. a layer."
        )
    specs = _inputs.input_specs(model)
    if len(specs) != 1:
        raise ValueError("Activation maximization synthesizes one input: `model` has several.")
    if specs[0].integer:
        raise ValueError(
            f"The model's input {specs[0].name!r} holds integers ({specs[0].dtype}); gradient "
            "ascent needs a float input: explain a model that takes the float (e.g. rescaled) "
            "image."
        )
    rng = np.random.default_rng(seed)
    shape = tuple(specs[0].shape[1:])
    if seed_input is None:
        if any(d is None for d in shape):
            raise ValueError("The model input has unknown dimensions: pass `seed_input`.")
        seed_input = _random_seed((1,) + shape, input_range, rng)
    batch = _inputs.prepare(model, seed_input, "seed_input")
    checks.work(max_iter * len(batch), "max_iter", max_iter, "optimization steps")
    single = batch.single or len(batch) == 1
    x0 = batch.arrays[0]
    caxis = input_channel_axis(model, x0.ndim, x0.ndim)
    spatial = tuple(a for a in range(1, x0.ndim) if caxis is None or a != x0.ndim + caxis
                    and a != caxis)
    names = [getattr(loss, "name", type(loss).__name__) for loss, _ in model_losses + input_losses]
    out = []
    for i in range(len(x0)):
        best = _minimize_one(model, model_losses, input_losses, x0[i:i + 1].astype("float32"),
                             spatial, max_iter, modifiers, modifier_fn, cbs, lr,
                             backprop_modifier, names)
        out.append(deprocess_input(best[0], input_range))
    for c in cbs:
        c.on_end()
    imgs = np.stack(out)
    if all(isinstance(v, (int, np.integer)) for v in input_range):
        imgs = np.clip(imgs, input_range[0], input_range[1]).astype("uint8")
    else:
        imgs = imgs.astype(x0.dtype)
    return imgs[0] if single else imgs


def _minimize_one(model, model_losses, input_losses, x, spatial, max_iter, modifiers,
                  modifier_fn, cbs, lr, backprop_modifier, names):
    """keras-vis' `Optimizer.minimize` for one sample; returns the best input `(1, ...)`."""
    cache = None
    best_loss, best = np.inf, x.copy()
    for i in range(max_iter):
        for m in modifiers:
            x = _modified(m, "pre", x)
        values, grads = [], np.zeros(x.shape, "float64")
        for loss, weight in model_losses:
            # the engine's score is -sum(w * loss): pass -weight to get +weight * loss
            score, g = engine.gradients(model, [(loss, -weight)], x,
                                        backprop_modifier=backprop_modifier)
            values.append(float(np.sum(score)))
            grads += g
        for reg, weight in input_losses:
            v, g = _regularizer_value_and_grad(reg, x, spatial)
            values.append(weight * float(np.sum(v)))
            grads += weight * g
        bad = [name for name, value in zip(names, values) if not np.isfinite(value)]
        if bad:
            raise ValueError(
                f"`losses`: the loss {bad[0]!r} is NaN or inf at step {i}; activation "
                "maximization needs finite losses (check the loss, or lower `lr` if the input "
                "diverged)."
            )
        overall = float(sum(values))
        grads = grads / (np.sqrt(np.mean(grads**2)) + _EPS)
        grads = np.asarray(modifier_fn(grads), dtype="float64")
        for c in cbs:
            checks.call(c.callback, "callbacks", i, list(zip(names, values)), overall, grads, x)
        cache = (np.zeros_like(grads) if cache is None else cache) * 0.95 + 0.05 * grads**2
        x = (x - lr * grads / np.sqrt(cache + _EPS)).astype("float32")
        for m in reversed(modifiers):
            x = _modified(m, "post", x)
        if overall < best_loss:
            best_loss, best = overall, x.copy()
    return best


def _modified(modifier, stage: str, x: np.ndarray) -> np.ndarray:
    """An input modifier's `pre` / `post` of `x`, checked: same shape, finite numbers."""
    out = checks.call(getattr(modifier, stage), "input_modifiers", x)
    out = checks.returned_array(out, "input_modifiers", shape=x.shape,
                                what=f"({type(modifier).__name__}.{stage}) returned")
    return out.astype("float32", copy=False)


def _regularizer_value_and_grad(reg, x: np.ndarray, spatial) -> tuple[np.ndarray, np.ndarray]:
    """An input regularizer's `(values, grads)`, checked: `(N,)` values and `x`-shaped grads."""
    what = f"({type(reg).__name__}.value_and_grad) returned"
    out = checks.call(reg.value_and_grad, "losses", x, spatial)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ValueError(f"`losses` {what} {type(out).__name__}; expected a pair (values, "
                         "grads).")
    values = checks.returned_array(out[0], "losses", what=what + " values with")
    if values.size not in (1, len(x)):
        raise ValueError(f"`losses` {what} values of shape {values.shape}; expected one value "
                         f"per sample ({len(x)}).")
    grads = checks.returned_array(out[1], "losses", shape=x.shape, what=what + " grads as")
    return values, grads.astype("float64")


def visualize_activation(
    model: keras.Model,
    layer_idx,
    filter_indices=None,
    seed_input=None,
    input_range=(0, 255),
    backprop_modifier=None,
    grad_modifier=None,
    act_max_weight: float = 1,
    lp_norm_weight: float = 10,
    tv_weight: float = 10,
    wrt_tensor=None,
    **optimizer_params,
) -> np.ndarray:
    """Synthesizes an input that maximizes `filter_indices` of a layer (keras-vis API).

    keras-vis' `visualize_activation`, with its defaults and its optimizer (see the module
    docstring): minimizes `act_max_weight * ActivationMaximization + lp_norm_weight * LPNorm +
    tv_weight * TotalVariation` by normalized-gradient RMSprop for `max_iter` steps, and
    returns the best input, deprocessed into `input_range`.

    Args:
        model: A Keras model with one float input. Never modified.
        layer_idx: The layer (index, name, nested path or layer); softmax layers are maximized
            on their logits.
        filter_indices: An int, a list of ints (summed), or `None` for all filters (their
            mean, as in keras-vis). Defaults to `None`.
        seed_input: The starting input (one sample or a batch). Defaults to `None` (keras-vis'
            random start; `seed=` makes it reproducible).
        input_range: `(low, high)`: sets the random start and the final rescaling; two ints
            (the default) give a uint8 image, as in keras-vis. Defaults to `(0, 255)`.
        backprop_modifier: See `vis.backprop_modifiers`. Defaults to `None`.
        grad_modifier: Applied to the normalized gradient at every step. Defaults to `None`.
        act_max_weight: Weight of `ActivationMaximization`; `0`/`None` drops it. Defaults to `1`.
        lp_norm_weight: Weight of `LPNorm(p=6)`; `0`/`None` drops it. Defaults to `10`.
        tv_weight: Weight of `TotalVariation(beta=2)`; `0`/`None` drops it. Defaults to `10`.
        wrt_tensor: `None` or the model input (see `visualize_activation_with_losses`).
            Defaults to `None`.
        **optimizer_params: `max_iter` (default `200`), `input_modifiers` (e.g.
            `[Jitter(16)]` from `vis.input_modifiers`; default none, as in keras-vis),
            `callbacks` (`vis.callbacks`), `verbose` (default `False`), and vis' `lr` (default
            `1.0`) and `seed`.

    Returns:
        The synthesized input(s) in `input_range` (uint8 for an integer range); one image for
        no seed, one sample or a batch of one.

    Raises:
        ValueError: Bad `input_range`, `max_iter`, `lr`, weights, an integer-input model, an
            input modifier, callback or `grad_modifier` that raises or returns values of
            another shape or NaN / inf (the message names its parameter), or the errors of
            `visualize_saliency`.
        TypeError: Arguments of the wrong type (`model` not a Keras model) or an unknown
            optimizer option.

    Note:
        After changing the model's architecture in place (e.g. `layer.activation = ...`), vis
        rebuilds its copy of the model; `vis.release(model)` frees the copies.

    Example:
        >>> from vis.input_modifiers import Jitter
        >>> img = visualize_activation(model, -1, 3, input_range=(0.0, 1.0), max_iter=100,
        ...                            input_modifiers=[Jitter(0.05)], seed=0)
    """
    unknown = sorted(set(optimizer_params) - set(_OPTIMIZER_PARAMS))
    if unknown:
        raise TypeError(
            f"Unknown optimizer option(s) {unknown}; valid: {list(_OPTIMIZER_PARAMS)}."
        )
    checks.model(model)
    for name, weight in (("act_max_weight", act_max_weight), ("lp_norm_weight", lp_norm_weight),
                         ("tv_weight", tv_weight)):
        if weight is not None:
            checks.finite_float(weight, name)
    losses = [(ActivationMaximization(layer_idx, filter_indices), act_max_weight),
              (LPNorm(p=6.0), lp_norm_weight), (TotalVariation(beta=2.0), tv_weight)]
    model_losses, input_losses = _split_losses(losses)
    if not model_losses and not input_losses:
        raise ValueError("`act_max_weight`, `lp_norm_weight` and `tv_weight` are all 0 or None: "
                         "there is nothing to optimize.")
    return _optimize(model, model_losses, input_losses, wrt_tensor, seed_input, input_range,
                     grad_modifier=grad_modifier, backprop_modifier=backprop_modifier,
                     **optimizer_params)

