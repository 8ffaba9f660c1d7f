"""Layer-wise relevance propagation (LRP): the epsilon and alpha-beta rules.

Bach et al., "On Pixel-Wise Explanations for Non-Linear Classifier Decisions by Layer-Wise
Relevance Propagation", PLoS ONE 2015, https://doi.org/10.1371/journal.pone.0130140; the comparison
method of Kindermans et al. 2018, with the conventions of the reference toolbox (iNNvestigate 1.x
`EpsilonRule` / `AlphaBetaRule`). Relevance starts at the selected output neuron with its value
`y_k` (pre-softmax logit). For every Dense/Conv layer with input `x`, `z = W x + b`:

- epsilon: `R_in = x * W^T s`, `s = R / (z + eps * sign(z))` with `sign(0) = +1`;
- alpha-beta: with `x+ = max(x, 0)`, `x- = min(x, 0)`, `W+`, `W-` likewise and the *full* bias
  `b = b+ + b-` in both denominators:
  `z_a = W+ x+ + W- x- + b`, `s_a = R / z_a`, `R_a = x+ * W+^T s_a + x- * W-^T s_a`;
  `z_b = W- x+ + W+ x- + b`, `s_b = R / z_b`, `R_b = x+ * W-^T s_b + x- * W+^T s_b`;
  `R_in = alpha * R_a - beta * R_b` (the inhibitory term is skipped when `beta = 0`). A zero
  denominator is replaced by 1 (iNNvestigate's `SafeDivide` adds its `K.epsilon()` there instead;
  both give 0 unless the zero is an exact cancellation with non-zero contributions).

Max-pooling routes relevance to the forward arg-max, Flatten/Reshape/Dropout pass it through, and
ReLUs pass it unchanged (a unit with a zero output receives zero relevance from the next layer's
rule anyway, so the vanilla ReLU gradient used here is the same thing).

Implementation: the rules are `keras.ops.custom_gradient` overrides of the Dense/Conv layers'
linear maps (`x -> W x + b`) in a *copy* of the model (a `BackpropModifier`; the products `W^T s`
are vector-Jacobian products of the backend seam, so the same rules run on TensorFlow, JAX and
PyTorch); the shared gradient engine then returns the relevance per unit of starting relevance,
and `explain` multiplies by `y_k`.
"""

from __future__ import annotations

import keras

from vis import backend as _backend
from vis.backprop_modifiers import BackpropModifier, custom_gradient_result, upstream_gradient
from vis.pattern import _layers
from vis.pattern._explain import explain_output
from vis.utils.model import iter_layers

__all__ = ["LRP", "LRPModifier"]

_RULES = ("epsilon", "alpha_beta")


def _backproject(op, x, kernel, s):
    """`W^T s` for the linear map `op(., kernel)` at input `x` (the map's input-gradient)."""
    return _backend.get().vjp(lambda t: op(t, kernel), x, s)


def _safe_divide(a, b):
    return a / (b + keras.ops.cast(keras.ops.equal(b, 0), b.dtype))


def _relevance_layer(layer, op, rule: str, epsilon: float, alpha: float, beta: float):
    """`x -> W x + b` (the layer's exact forward) whose gradient applies the LRP rule."""
    ops = keras.ops

    def call_fn(x, kernel, bias):
        def forward(inputs, w):
            return _layers.add_bias(layer, op(inputs, w), bias)

        @ops.custom_gradient
        def fn(inputs):
            z = forward(inputs, kernel)

            def grad(*args, upstream=None, variables=None):
                r = ops.cast(upstream_gradient(args, upstream), z.dtype)
                if rule == "epsilon":
                    sign = ops.where(z >= 0, ops.ones_like(z), -ops.ones_like(z))
                    s = r / (z + epsilon * sign)
                    return custom_gradient_result(
                        inputs * _backproject(op, inputs, kernel, s), variables)
                zero = ops.zeros((), inputs.dtype)
                x_pos, x_neg = ops.relu(inputs), ops.minimum(inputs, zero)
                w_pos, w_neg = ops.relu(kernel), ops.minimum(kernel, ops.zeros((), kernel.dtype))
                b = _layers.add_bias(layer, ops.zeros_like(z), bias)
                z_a = op(x_pos, w_pos) + op(x_neg, w_neg) + b
                s_a = _safe_divide(r, z_a)
                rel = (x_pos * _backproject(op, x_pos, w_pos, s_a)
                       + x_neg * _backproject(op, x_neg, w_neg, s_a))
                if beta:
                    z_b = op(x_pos, w_neg) + op(x_neg, w_pos) + b
                    s_b = _safe_divide(r, z_b)
                    inhibit = (x_pos * _backproject(op, x_pos, w_neg, s_b)
                               + x_neg * _backproject(op, x_neg, w_pos, s_b))
                    rel = alpha * rel - beta * inhibit
                return custom_gradient_result(rel, variables)

            return z, grad

        return fn(x)

    def call(inputs, *args, **kwargs):
        kernel = _layers.value(layer.kernel)
        bias = None if layer.bias is None else _layers.value(layer.bias)
        z = call_fn(inputs, kernel, bias)
        activation = layer.activation  # read at call time: the engine may wrap it
        return activation(z) if activation is not None else z

    return call


class LRPModifier(BackpropModifier):
    """Backprop modifier whose kernel-layer gradients are LRP relevance rules (see module doc).

    Args:
        rule: `'epsilon'` or `'alpha_beta'`. Defaults to `'epsilon'`.
        epsilon: The epsilon rule's stabilizer (> 0). Defaults to `1e-7`.
        alpha: Weight of the positive contributions (alpha-beta). Defaults to `1`.
        beta: Weight of the negative contributions (alpha-beta; `alpha - beta = 1`). Defaults to
            `0`.

    Raises:
        ValueError: Unknown rule, `epsilon <= 0`, negative `alpha`/`beta` or `alpha - beta != 1`.

    Example:
        >>> mod = LRPModifier("alpha_beta", alpha=2, beta=1)
    """

    def __init__(self, rule: str = "epsilon", epsilon: float = 1e-7, alpha: float = 1.0,
                 beta: float = 0.0):
        if rule not in _RULES:
            raise ValueError(f"`rule` must be one of {list(_RULES)}, got {rule!r}.")
        for name, value in (("epsilon", epsilon), ("alpha", alpha), ("beta", beta)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"`{name}` must be a number, got {value!r}.")
        if rule == "epsilon" and not epsilon > 0:
            raise ValueError(f"`epsilon` must be > 0, got {epsilon!r}.")
        if rule == "alpha_beta":
            if alpha < 0 or beta < 0 or abs(alpha - beta - 1) > 1e-12:
                raise ValueError(
                    f"The alpha-beta rule needs alpha >= 0, beta >= 0 and alpha - beta = 1, got "
                    f"alpha={alpha!r}, beta={beta!r}."
                )
        self.rule = rule
        self.epsilon, self.alpha, self.beta = float(epsilon), float(alpha), float(beta)
        self.name = f"lrp.{rule}"

    @property
    def cache_key(self) -> object:
        """Equal for equal rule parameters (model copies and compiled functions are shared)."""
        if self.rule == "epsilon":
            return (type(self).__name__, self.rule, self.epsilon)
        return (type(self).__name__, self.rule, self.alpha, self.beta)

    def apply(self, model_copy: keras.Model) -> int:
        """Installs the rule on every Dense/Conv layer of `model_copy`; returns the count."""
        _layers.check_explainable(model_copy, f"LRP ({self.rule})")
        count = 0
        for _, layer in iter_layers(model_copy):
            if _layers.is_kernel_layer(layer):
                layer.call = _relevance_layer(
                    layer, _layers.linear_op(layer), self.rule, self.epsilon, self.alpha, self.beta
                )
                count += 1
        return count


class LRP:
    """Layer-wise relevance propagation with the epsilon or alpha-beta rule on every layer.

    Args:
        model: A Keras ReLU network, Sequential or Functional (Dense/Conv, max-pooling, Flatten,
            Dropout; softmax allowed on the output layer; no preprocessing layers). Never
            modified.
        rule: `'epsilon'` or `'alpha_beta'`. Defaults to `'epsilon'`.
        epsilon: Stabilizer of the epsilon rule (> 0). Defaults to `1e-7`.
        alpha: Alpha of the alpha-beta rule. Defaults to `1`.
        beta: Beta of the alpha-beta rule (`alpha - beta = 1`). Defaults to `0`.

    Raises:
        ValueError: Invalid rule parameters (see `LRPModifier`).
        TypeError: If `model` is not a Keras model or is subclassed (rebuild it with the
            Functional API).

    Example:
        >>> relevance = LRP(model, rule="epsilon").explain(x_test[:8], y_test[:8])
        >>> relevance_ab = LRP(model, rule="alpha_beta", alpha=2, beta=1).explain(x_test[0], 3)
    """

    def __init__(self, model: keras.Model, rule: str = "epsilon", epsilon: float = 1e-7,
                 alpha: float = 1.0, beta: float = 0.0):
        self.model = _layers.check_model(model)
        self.modifier = LRPModifier(rule, epsilon, alpha, beta)

    def explain(self, seed_input, filter_indices, batch_size: int | None = None):
        """Input relevances of the selected output neuron, starting from its value `y_k`.

        Args:
            seed_input: One sample (no batch axis) or a batch.
            filter_indices: The output neuron: an int for all samples, or one int per sample (an
                integer array of length `n`, or `vis.losses.per_sample(indices)`).
            batch_size: Evaluate in chunks of this many samples. Defaults to `None` (one batch).

        Returns:
            Relevance maps shaped like `seed_input` (for the epsilon rule on a bias-free network
            they sum to `y_k`, up to epsilon). Samples whose map is all zero or not finite are
            warned about (`vis.errors.ZeroMapWarning` / `NaNMapWarning`).

        Raises:
            ValueError: Unsupported layer or activation (named), wrong input, index out of range.
            TypeError: `filter_indices` of the wrong type.

        Example:
            >>> relevance = LRP(model, rule="epsilon").explain(x_test[:4], y_test[:4])
            >>> relevance.shape
            (4, 8, 8, 1)
        """
        return explain_output(self.model, self.modifier, seed_input, filter_indices, batch_size,
                              warn=f"LRP ({self.modifier.rule})")

    def maps(self, seed_input, filter_indices, batch_size: int | None = None):
        """`explain` without the `ZeroMapWarning` / `NaNMapWarning` (callers that warn).

        `vis.explain(model, x, "lrp_epsilon", ...)` calls this and warns itself, once.
        """
        return explain_output(self.model, self.modifier, seed_input, filter_indices, batch_size)
