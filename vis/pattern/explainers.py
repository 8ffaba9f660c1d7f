"""PatternNet and PatternAttribution: back-project the output with patterns instead of weights.

Kindermans et al., "Learning how to explain neural networks: PatternNet and PatternAttribution",
ICLR 2018, https://arxiv.org/abs/1705.05598; as the authors' reference implementation
(iNNvestigate 1.x `PatternNet` / `PatternAttribution`) computes them. The backward pass starts at
the selected output neuron with its value `y_k` (the pre-softmax logit), is gated by the forward
ReLU masks, routes max-pooling to the forward arg-max (both exactly the vanilla gradient), and
back-projects every Dense/Conv layer with its pattern `A` (PatternNet: the *signal*) or with
`W * A` (PatternAttribution: the *attribution*) instead of its kernel `W`. A single Dense layer
gives `y_k * a_k` and `y_k * (w_k * a_k)`.

It is implemented as a `vis.backprop_modifiers.BackpropModifier` whose overrides replace, in a
*copy* of the model, the input-gradient of each kernel layer's linear map
(`keras.ops.custom_gradient`, with the backward projection a vector-Jacobian product of the
backend seam: the same code on TensorFlow, JAX and PyTorch; the forward values are unchanged),
and the shared engine (`vis.engine.gradients`) computes `d y_k / d x` with it; the explainers
multiply by `y_k`.

Differences from iNNvestigate, by design: iNNvestigate rescales the backward signal at "bottleneck"
layers to [-1, 1] (`reverse_project_bottleneck_layers`) to avoid overflow in deep networks; that
changes each map by a positive per-sample factor only, and vis does not do it, so maps are exact.
"""

from __future__ import annotations

import keras
import numpy as np

from vis import backend as _backend
from vis.backprop_modifiers import BackpropModifier, custom_gradient_result, upstream_gradient
from vis.pattern import _layers
from vis.pattern._explain import explain_output
from vis.pattern.patterns import Patterns
from vis.utils.model import iter_layers

__all__ = ["PatternModifier", "modifier", "PatternNet", "PatternAttribution"]


def _kind(explainer: type) -> str:
    """A modifier's kind names the explainer it serves: its lower-cased class name."""
    return explainer.__name__.lower()


def _explainers() -> dict[str, type]:
    """`kind -> explainer class`, PatternNet's kind first (the default)."""
    return {_kind(cls): cls for cls in (PatternNet, PatternAttribution)}


def _backprojecting(op, kernel, backward_kernel):
    """`x -> op(x, kernel)` whose input-gradient uses `backward_kernel` instead of `kernel`."""

    @keras.ops.custom_gradient
    def fn(x):
        z = op(x, kernel)

        def grad(*args, upstream=None, variables=None):
            dz = upstream_gradient(args, upstream)
            back = keras.ops.cast(backward_kernel, x.dtype)
            dx = _backend.get().vjp(lambda t: op(t, back), x, dz)
            return custom_gradient_result(dx, variables)

        return z, grad

    return fn


def _patched_call(layer: keras.layers.Layer, pattern: np.ndarray, attribution: bool):
    """The layer's call whose backward pass projects `pattern` (or `kernel * pattern`).

    The kernel is read at call time (the weights the model runs on now), so PatternAttribution's
    `W * A` uses the current `W`.
    """
    op = _layers.linear_op(layer)

    def call(inputs, *args, **kwargs):
        kernel = _layers.value(layer.kernel)
        backward = keras.ops.convert_to_tensor(pattern, dtype=kernel.dtype)
        if attribution:
            backward = kernel * backward
        z = _backprojecting(op, kernel, backward)(inputs)
        z = _layers.add_bias(layer, z)
        activation = layer.activation  # read at call time: the engine may wrap it
        return activation(z) if activation is not None else z

    return call


class PatternModifier(BackpropModifier):
    """Backprop modifier: each kernel layer back-projects its pattern (or pattern * weight).

    Use it with `vis.visualization.visualize_saliency(..., backprop_modifier=...)` or through
    `PatternNet` / `PatternAttribution`. ReLU gating and max-pool routing stay the vanilla
    gradient. Applying it checks that the model is a ReLU network of supported layers and that
    every kernel layer has a pattern of the kernel's shape.

    Args:
        patterns: A `Patterns` object from `fit_patterns` (or `Patterns.load`).
        kind: `'patternnet'` (back-project `A`) or `'patternattribution'` (back-project `W * A`):
            the explainer's name, lower-cased. Defaults to `None` (`'patternnet'`).

    Raises:
        TypeError: If `patterns` is not a `Patterns`.
        ValueError: If `kind` is unknown.

    Example:
        >>> mod = PatternModifier(patterns, "patternattribution")
    """

    def __init__(self, patterns: Patterns, kind: str | None = None):
        if not isinstance(patterns, Patterns):
            raise TypeError(
                f"`patterns` must be a vis.pattern.Patterns (from fit_patterns), got "
                f"{type(patterns).__name__}."
            )
        explainers = _explainers()
        kind = next(iter(explainers)) if kind is None else kind
        if kind not in explainers:
            raise ValueError(f"`kind` must be one of {list(explainers)}, got {kind!r}.")
        self.patterns = patterns
        self.explainer = explainers[kind]
        self.kind = kind
        self.name = kind

    @property
    def cache_key(self) -> object:
        """Equal for equal patterns and kind, so that model copies and compiled functions are
        shared."""
        return ("pattern", self.kind, self.patterns.digest)

    def apply(self, model_copy: keras.Model) -> int:
        """Replaces the input-gradient of every Dense/Conv layer of `model_copy`; returns the count."""
        _layers.check_explainable(model_copy, self.explainer.__name__)
        count = 0
        for path, layer in iter_layers(model_copy):
            if not _layers.is_kernel_layer(layer):
                continue
            kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel))
            if path not in self.patterns:
                raise ValueError(
                    f"`patterns` has no pattern for layer {path!r}; fit them on this model with "
                    f"vis.pattern.fit_patterns (it has patterns for {sorted(self.patterns)})."
                )
            pattern = self.patterns[path]
            if pattern.shape != kernel.shape:
                raise ValueError(
                    f"The pattern of layer {path!r} has shape {pattern.shape} but its kernel has "
                    f"shape {kernel.shape}: the patterns were fitted on another model."
                )
            layer.call = _patched_call(layer, pattern.astype(kernel.dtype),
                                       self.explainer.attribution)
            count += 1
        return count


def modifier(patterns: Patterns, kind: str | None = None) -> PatternModifier:
    """A backprop modifier for keras-vis-style use (`visualize_saliency(..., backprop_modifier=)`).

    `visualize_saliency` returns `d y_k / d x` computed with the modified backward pass, i.e. the
    PatternNet / PatternAttribution map *without* the factor `y_k` that the reference
    implementation starts from: multiply by the logit to get `PatternNet.explain`'s map (with
    `grad_modifier=None, keepdims=True, normalize=False`). With the default
    `grad_modifier='absolute', normalize=True` the factor makes no difference (each map is
    min-max scaled).

    Args:
        patterns: A `Patterns` object.
        kind: `'patternnet'` or `'patternattribution'`. Defaults to `None` (`'patternnet'`).

    Returns:
        A `PatternModifier`.

    Example:
        >>> from vis.visualization import visualize_saliency
        >>> maps = visualize_saliency(model, -1, 3, x, backprop_modifier=modifier(patterns))
    """
    return PatternModifier(patterns, kind)


class PatternNet:
    """PatternNet: the signal the network detects, back-projected with the fitted patterns.

    Args:
        model: A Keras ReLU network, Sequential or Functional (Dense/Conv, max-pooling, Flatten,
            Dropout; softmax allowed on the output layer; no preprocessing layers). Never
            modified.
        patterns: `Patterns` fitted on this model (`fit_patterns`), e.g. `two_component`.

    Raises:
        TypeError: If `model` is not a Keras model or is subclassed (rebuild it with the
            Functional API), or `patterns` is not a `Patterns`.

    Example:
        >>> patterns = fit_patterns(model, x_train)
        >>> signal = PatternNet(model, patterns).explain(x_test[:8], y_test[:8])
        >>> signal.shape
        (8, 8, 8, 1)
    """

    attribution = False
    """Whether kernel layers back-project `W * A` (PatternAttribution) instead of `A`."""

    def __init__(self, model: keras.Model, patterns: Patterns):
        self.model = _layers.check_model(model)
        self.modifier = PatternModifier(
            patterns, _kind(PatternAttribution if self.attribution else PatternNet))

    def explain(self, seed_input, filter_indices, batch_size: int | None = None) -> np.ndarray:
        """The raw, signed map of the selected output neuron for each sample.

        Args:
            seed_input: One sample (no batch axis) or a batch.
            filter_indices: The output neuron: an int for all samples, or one int per sample (an
                integer array of length `n`, or `vis.losses.per_sample(indices)`).
            batch_size: Evaluate in chunks of this many samples. Defaults to `None` (one batch).

        Returns:
            Maps shaped like `seed_input`: the backward pass started at `y_k` (pre-softmax).
            Samples whose map is all zero (e.g. units that never fire) or not finite are
            warned about (`vis.errors.ZeroMapWarning` / `NaNMapWarning`), as every method does.

        Raises:
            ValueError: Unsupported layer or activation (the message names it), missing or
                mismatched patterns, wrong input shape, index out of range.
            TypeError: `filter_indices` of the wrong type.

        Example:
            >>> patterns = fit_patterns(model, x_train, verbose=False)
            >>> signal = PatternNet(model, patterns).explain(x_test[:4], y_test[:4])
            >>> signal.shape
            (4, 8, 8, 1)
        """
        return explain_output(self.model, self.modifier, seed_input, filter_indices, batch_size,
                              warn=type(self).__name__)

    def maps(self, seed_input, filter_indices, batch_size: int | None = None) -> np.ndarray:
        """`explain` without the `ZeroMapWarning` / `NaNMapWarning` (callers that warn).

        `vis.explain(model, x, "patternnet", ...)` calls this and warns itself, once.
        """
        return explain_output(self.model, self.modifier, seed_input, filter_indices, batch_size)


class PatternAttribution(PatternNet):
    """PatternAttribution: each kernel layer back-projects `W * A` (attribution of the signal).

    Args:
        model: A Keras ReLU network, Sequential or Functional. Never modified.
        patterns: `Patterns` fitted on this model.

    Raises:
        TypeError: If `model` is not a Keras model or is subclassed, or `patterns` is not a
            `Patterns`.

    Example:
        >>> attribution = PatternAttribution(model, patterns).explain(x_test[:8], y_test[:8])
    """

    attribution = True
