"""Built-in explainers for the sanity checks: `(model, x, y) -> raw signed maps`.

An explainer maps a model, a batch of inputs `x` and one class index per input `y` to one
attribution map per input, explaining the *pre-softmax* score (the logit) of class `y[i]` of the
model's last layer. The built-ins return raw, signed attributions (no gradient modifier, no
normalization, channels kept) so that the metrics of `vis.sanity.metrics` decide themselves
whether to take absolute values or to rescale:

| name | map |
| --- | --- |
| `gradient` | `d logit_y / d x` (Simonyan et al. 2014) |
| `guided_backprop` | guided backpropagation (Springenberg et al. 2015) |
| `deconvnet` | deconvnet (Zeiler & Fergus 2014) |
| `smoothgrad` | SmoothGrad, 50 noisy copies, noise 0.15, fixed `seed=0` (Smilkov et al. 2017) |
| `integrated_gradients` | Integrated Gradients from a zero baseline, 50 steps (Sundararajan et al. 2017) |
| `gradient_x_input` | `x * d logit_y / d x` |
| `gradcam` | Grad-CAM on the last convolution, `(N, H, W)`, non-negative (Selvaraju et al. 2017) |
| `guided_gradcam` | guided backprop times Grad-CAM |
| `patternnet` | PatternNet signal, two-component patterns fitted on `x` (Kindermans et al. 2018) |
| `patternattribution` | PatternAttribution, patterns fitted on `x` |
| `lrp` | LRP-epsilon (Bach et al. 2015) |

PatternNet and PatternAttribution need patterns fitted on the model they explain: in a
randomization test a randomized model has its own signal directions, so these explainers fit the
patterns of *each* model (the trained one and every randomized one) on the inputs `x` being
explained. For patterns fitted on training data instead, pass your own callable, e.g.
`lambda m, x, y: PatternNet(m, fit_patterns(m, x_train)).explain(x, per_sample(y))`.

Custom explainers are callables `(model, x, y) -> maps`; they may also accept a `batch_size`
keyword, which the randomization tests then pass on. Register one with `register(name, fn)`.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from vis.losses import per_sample

__all__ = [
    "gradient",
    "guided_backprop",
    "deconvnet",
    "smoothgrad",
    "integrated_gradients",
    "gradient_x_input",
    "gradcam",
    "guided_gradcam",
    "patternnet",
    "patternattribution",
    "lrp",
    "get",
    "register",
    "names",
]

Explainer = Callable[..., np.ndarray]

# keras-vis style arguments that return raw, signed, per-sample attributions.
_RAW = {"grad_modifier": None, "keepdims": True, "normalize": False}


def _targets(y) -> object:
    return per_sample(np.asarray(y).astype("int64"))


def gradient(model: keras.Model, x: np.ndarray, y: np.ndarray,
             batch_size: int | None = None) -> np.ndarray:
    """Gradient of the target logit w.r.t. the input (vanilla saliency), signed.

    Args:
        model: A Keras classifier. Never modified.
        x: A batch of inputs.
        y: One class index per input.
        batch_size: Evaluate in chunks of this many inputs. Defaults to `None` (one batch).

    Returns:
        Maps shaped like `x`.

    Example:
        >>> maps = gradient(model, x_test[:8], y_test[:8])
    """
    from vis.visualization import visualize_saliency

    return visualize_saliency(model, -1, _targets(y), x, batch_size=batch_size, **_RAW)


def guided_backprop(model: keras.Model, x: np.ndarray, y: np.ndarray,
                    batch_size: int | None = None) -> np.ndarray:
    """Guided backpropagation of the target logit, signed.

    The gradient of the logit of `y[i]`, backpropagated through ReLUs that pass only positive
    gradients at positive inputs (`backprop_modifier='guided'`), no modifier, channels kept.

    Args:
        model: A Keras classifier. Never modified.
        x: A batch of inputs.
        y: One class index per input.
        batch_size: Evaluate in chunks of this many inputs. Defaults to `None` (one batch).

    Returns:
        Maps shaped like `x`.

    Example:
        >>> maps = guided_backprop(model, x_test[:8], y_test[:8])
    """
    from vis.visualization import visualize_saliency

    return visualize_saliency(model, -1, _targets(y), x, backprop_modifier="guided",
                              batch_size=batch_size, **_RAW)


def deconvnet(model: keras.Model, x: np.ndarray, y: np.ndarray,
              batch_size: int | None = None) -> np.ndarray:
    """Deconvnet attribution of the target logit, signed.

    The gradient of the logit of `y[i]`, backpropagated through ReLUs that pass only positive
    gradients, whatever the forward input (`backprop_modifier='deconvnet'`), channels kept.

    Args:
        model: A Keras classifier. Never modified.
        x: A batch of inputs.
        y: One class index per input.
        batch_size: Evaluate in chunks of this many inputs. Defaults to `None` (one batch).

    Returns:
        Maps shaped like `x`.

    Example:
        >>> maps = deconvnet(model, x_test[:8], y_test[:8])
    """
    from vis.visualization import visualize_saliency

    return visualize_saliency(model, -1, _targets(y), x, backprop_modifier="deconvnet",
                              batch_size=batch_size, **_RAW)


def smoothgrad(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int | None = None,
               samples: int = 50, noise: float = 0.15, seed: int = 0) -> np.ndarray:
    """SmoothGrad of the target logit, signed, with a fixed noise seed.

    The same `seed` gives the same noise for the trained and the randomized models, so that the
    maps differ only through the model.

    Args:
        model: A Keras classifier. Never modified.
        x: A batch of inputs.
        y: One class index per input.
        batch_size: Maximum noisy inputs per gradient call. Defaults to `None`.
        samples: Noisy copies per input. Defaults to `50`.
        noise: Noise level as a fraction of each input's range. Defaults to `0.15`.
        seed: Seed of the noise. Defaults to `0`.

    Returns:
        Maps shaped like `x`.

    Example:
        >>> maps = smoothgrad(model, x_test[:8], y_test[:8], samples=20)
    """
    from vis.visualization import visualize_smoothgrad

    return visualize_smoothgrad(model, -1, _targets(y), x, samples=samples, noise=noise,
                                seed=seed, batch_size=batch_size, **_RAW)


def integrated_gradients(model: keras.Model, x: np.ndarray, y: np.ndarray,
                         batch_size: int | None = None, baseline=None,
                         steps: int = 50) -> np.ndarray:
    """Integrated Gradients of the target logit, signed.

    Args:
        model: A Keras classifier. Never modified.
        x: A batch of inputs.
        y: One class index per input.
        batch_size: Evaluate in chunks. Defaults to `None`.
        baseline: The baseline (see `vis.visualization.visualize_integrated_gradients`).
            Defaults to `None` (zeros).
        steps: Integration steps. Defaults to `50`.

    Returns:
        Maps shaped like `x`.

    Example:
        >>> maps = integrated_gradients(model, x_test[:8], y_test[:8], steps=20)
    """
    from vis.visualization import visualize_integrated_gradients

    return visualize_integrated_gradients(model, -1, _targets(y), x, baseline=baseline,
                                          steps=steps, batch_size=batch_size, **_RAW)


def gradient_x_input(model: keras.Model, x: np.ndarray, y: np.ndarray,
                     batch_size: int | None = None) -> np.ndarray:
    """Gradient times input of the target logit, signed.

    The elementwise product `x * d logit_y / d x`, channels kept.

    Args:
        model: A Keras classifier. Never modified.
        x: A batch of inputs.
        y: One class index per input.
        batch_size: Evaluate in chunks of this many inputs. Defaults to `None` (one batch).

    Returns:
        Maps shaped like `x`.

    Example:
        >>> maps = gradient_x_input(model, x_test[:8], y_test[:8])
    """
    from vis.visualization import visualize_gradient_x_input

    return visualize_gradient_x_input(model, -1, _targets(y), x, batch_size=batch_size, **_RAW)


def gradcam(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int | None = None,
            penultimate_layer_idx=None) -> np.ndarray:
    """Grad-CAM of the target logit: `(N, H, W)` non-negative maps, not normalized.

    Args:
        model: A Keras classifier with a convolution. Never modified.
        x: A batch of inputs.
        y: One class index per input.
        batch_size: Evaluate in chunks. Defaults to `None`.
        penultimate_layer_idx: The convolution whose feature maps are weighted. Defaults to
            `None` (the last layer with a spatial output).

    Returns:
        Maps of the input's spatial size, without a channel axis (all zero where the ReLU of
        Grad-CAM removes everything; the metrics handle constant maps).

    Example:
        >>> cams = gradcam(model, x_test[:8], y_test[:8])
    """
    from vis.visualization import visualize_cam

    return visualize_cam(model, -1, _targets(y), x, penultimate_layer_idx=penultimate_layer_idx,
                         normalize=False, batch_size=batch_size)


def guided_gradcam(model: keras.Model, x: np.ndarray, y: np.ndarray,
                   batch_size: int | None = None, penultimate_layer_idx=None) -> np.ndarray:
    """Guided Grad-CAM of the target logit, signed, channels kept.

    Guided backpropagation multiplied by the (upsampled) Grad-CAM map of the same class, not
    normalized.

    Args:
        model: A Keras classifier with a convolution. Never modified.
        x: A batch of inputs.
        y: One class index per input.
        batch_size: Evaluate in chunks. Defaults to `None`.
        penultimate_layer_idx: The convolution whose feature maps are weighted. Defaults to
            `None` (the last layer with a spatial output).

    Returns:
        Maps shaped like `x`.

    Example:
        >>> maps = guided_gradcam(model, x_test[:8], y_test[:8])
    """
    from vis.visualization import visualize_cam

    return visualize_cam(model, -1, _targets(y), x, penultimate_layer_idx=penultimate_layer_idx,
                         normalize=False, guided=True, keepdims=True, batch_size=batch_size)


def patternnet(model: keras.Model, x: np.ndarray, y: np.ndarray,
               batch_size: int | None = None) -> np.ndarray:
    """PatternNet signal of the target logit, with patterns fitted on `(model, x)`.

    The patterns are fitted on the model being explained, with the explained inputs `x` as the
    data (a randomized model has its own patterns; see the module docstring).

    Args:
        model: A Keras classifier. Never modified.
        x: A batch of inputs (also the data the patterns are fitted on).
        y: One class index per input.
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        Maps shaped like `x`.

    Example:
        >>> maps = patternnet(model, x_test[:64], y_test[:64])
    """
    from vis.pattern import PatternNet, fit_patterns

    patterns = fit_patterns(model, x, batch_size=batch_size or 256, verbose=False)
    return np.asarray(PatternNet(model, patterns).explain(x, _targets(y), batch_size=batch_size))


def patternattribution(model: keras.Model, x: np.ndarray, y: np.ndarray,
                       batch_size: int | None = None) -> np.ndarray:
    """PatternAttribution of the target logit, with patterns fitted on `(model, x)`.

    As for `patternnet`, the patterns are fitted on the model being explained, with the
    explained inputs `x` as the data.

    Args:
        model: A Keras classifier. Never modified.
        x: A batch of inputs (also the data the patterns are fitted on).
        y: One class index per input.
        batch_size: Evaluate in chunks. Defaults to `None`.

    Returns:
        Maps shaped like `x`.

    Example:
        >>> maps = patternattribution(model, x_test[:64], y_test[:64])
    """
    from vis.pattern import PatternAttribution, fit_patterns

    patterns = fit_patterns(model, x, batch_size=batch_size or 256, verbose=False)
    return np.asarray(
        PatternAttribution(model, patterns).explain(x, _targets(y), batch_size=batch_size)
    )


def lrp(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int | None = None,
        rule: str = "epsilon") -> np.ndarray:
    """Layer-wise relevance propagation of the target logit.

    Args:
        model: A Keras classifier. Never modified.
        x: A batch of inputs.
        y: One class index per input.
        batch_size: Evaluate in chunks. Defaults to `None`.
        rule: `'epsilon'` or `'alpha_beta'` (see `vis.pattern.LRP`). Defaults to `'epsilon'`.

    Returns:
        Relevance maps shaped like `x`.

    Example:
        >>> maps = lrp(model, x_test[:8], y_test[:8])
    """
    from vis.pattern import LRP

    return np.asarray(LRP(model, rule=rule).explain(x, _targets(y), batch_size=batch_size))


_REGISTRY: dict[str, Explainer] = {
    "gradient": gradient,
    "guided_backprop": guided_backprop,
    "deconvnet": deconvnet,
    "smoothgrad": smoothgrad,
    "integrated_gradients": integrated_gradients,
    "gradient_x_input": gradient_x_input,
    "gradcam": gradcam,
    "guided_gradcam": guided_gradcam,
    "patternnet": patternnet,
    "patternattribution": patternattribution,
    "lrp": lrp,
}


def names() -> list[str]:
    """Returns the registered explainer names, sorted.

    Returns:
        A list of names accepted by `get` and by the `method=` argument of the tests.

    Example:
        >>> "guided_backprop" in names()
        True
    """
    return sorted(_REGISTRY)


def register(name: str, fn: Explainer) -> None:
    """Registers an explainer `fn(model, x, y) -> maps` under `name`.

    Args:
        name: The name to pass as `method=`.
        fn: The explainer; it may accept a `batch_size` keyword.

    Returns:
        `None`; from then on `get(name)` and `method=name` give `fn`.

    Raises:
        ValueError: If `name` is not a non-empty string.
        TypeError: If `fn` is not callable.

    Example:
        >>> register("relu_gradient", lambda m, x, y: np.maximum(gradient(m, x, y), 0))
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty string, got {name!r}.")
    if not callable(fn):
        raise TypeError(f"`fn` must be callable, got {type(fn).__name__}.")
    _REGISTRY[name] = fn


def get(identifier) -> Explainer:
    """Returns the explainer for a registered name, or the callable itself.

    Args:
        identifier: A name (see `names()`) or a callable `(model, x, y) -> maps`.

    Returns:
        The explainer.

    Raises:
        ValueError: If the name is unknown (the message lists the valid names).
        TypeError: If `identifier` is neither a string nor a callable.

    Example:
        >>> get("guided_backprop") is guided_backprop
        True
    """
    if isinstance(identifier, str):
        if identifier in _REGISTRY:
            return _REGISTRY[identifier]
        raise ValueError(
            f"Unknown explainer `method`={identifier!r}. Valid names: {names()}, or a callable "
            "(model, x, y) -> maps."
        )
    if callable(identifier):
        return identifier
    raise TypeError(
        f"`method` must be an explainer name or a callable (model, x, y) -> maps, got "
        f"{type(identifier).__name__}: {identifier!r}."
    )
