"""Backprop modifiers: guided backpropagation, deconvnet, and user-registered ones.

A backprop modifier changes how gradients flow backwards through a model *copy* (never the
user's model), by `keras.ops.custom_gradient` overrides. The built-ins act on the rectifier
non-linearities wherever they are: fused `activation='relu'` in Conv/Dense layers, `ReLU` layers
(including `ReLU(6.)` of MobileNetV2), `Activation('relu')`, `LeakyReLU`, `PReLU` and ELU, inside
nested models too. A modifier that finds nothing to override warns on every call (the map would
be the vanilla gradient). A layer shared by several calls is overridden at every call.

- `guided` (Springenberg et al. 2015, https://arxiv.org/abs/1412.6806): the gradient passes only
  where the incoming gradient is positive *and* the forward unit was active:
  `g_in = f'(z) * relu(g_out)` (for ReLU: `g_out * [g_out > 0] * [z > 0]`).
- `relu` / `deconv` / `deconvnet` / `rectified` (Zeiler & Fergus 2014,
  https://arxiv.org/abs/1311.2901): only the positive part of the incoming gradient passes, with no
  forward mask: `g_in = relu(g_out)`.

A custom modifier is a function that takes an activation function and returns a replacement with a
custom gradient; register it with `register(name, fn)`. For overrides of other layers (PatternNet
replaces the kernels of Dense/Conv layers in the backward pass) subclass `BackpropModifier`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import keras

from vis import backend as _backend
from vis.registry import Registry
from vis.utils.model import iter_layers

__all__ = ["BackpropModifier", "ActivationModifier", "get", "register", "names", "guided", "deconv",
           "upstream_gradient", "custom_gradient_result"]

# Rectifier activations whose gradient the built-in modifiers override.
RECTIFIER_NAMES = ("relu", "relu6", "leaky_relu", "elu")
_RECTIFIER_LAYERS = (keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.ELU,
                     keras.layers.PReLU)


def upstream_gradient(args, upstream):
    """The incoming gradient of a `keras.ops.custom_gradient` rule, on every backend.

    TensorFlow and JAX pass it positionally; PyTorch passes the forward inputs positionally and
    the incoming gradient as `upstream=`. Write rules as `grad(*args, upstream=None,
    variables=None)` and start with `dy = upstream_gradient(args, upstream)`.

    Args:
        args: The positional arguments the rule received.
        upstream: The `upstream=` keyword argument it received.

    Returns:
        The gradient w.r.t. the custom function's output.

    Example:
        >>> @keras.ops.custom_gradient
        ... def clipped(z):
        ...     def grad(*args, upstream=None, variables=None):
        ...         dy = upstream_gradient(args, upstream)
        ...         return custom_gradient_result(keras.ops.clip(dy, -1.0, 1.0), variables)
        ...     return z, grad
    """
    return upstream if upstream is not None else args[0]


def custom_gradient_result(dx, variables):
    """A custom gradient rule's return value: TensorFlow wants gradients for captured variables.

    Args:
        dx: The gradient w.r.t. the custom function's input.
        variables: The `variables=` keyword argument the rule received (TensorFlow only).

    Returns:
        `dx`, or `(dx, [None] * len(variables))` when TensorFlow passed variables.
    """
    return dx if variables is None else (dx, [None] * len(variables))



def guided(activation: Callable) -> Callable:
    """Guided backprop version of `activation`: `g_in = f'(z) * relu(g_out)`.

    Written with `keras.ops.custom_gradient`, so it works on the TensorFlow, JAX and PyTorch
    backends; `f'(z)` is the activation's own (elementwise) derivative, a vector-Jacobian
    product through the backend seam taken in the forward pass, with the weights of that call
    (a `PReLU`'s current slopes), so ReLU(6.), leaky ReLU, ELU and PReLU get their exact masks.

    Args:
        activation: The forward activation function (e.g. `keras.activations.relu`).

    Returns:
        A function computing the same forward values with the guided gradient.

    Example:
        >>> f = guided(keras.activations.relu)
        >>> from vis import backend
        >>> z = keras.ops.convert_to_tensor([-1.0, 2.0, 3.0])
        >>> dz = backend.get().vjp(f, z, keras.ops.convert_to_tensor([5.0, 5.0, -5.0]))
        >>> backend.to_numpy(dz)
        array([0., 5., 0.], dtype=float32)
    """

    @keras.ops.custom_gradient
    def fn(z):
        y = activation(z)
        slope = _backend.get().vjp(activation, z, keras.ops.ones_like(y))  # f'(z)

        def grad(*args, upstream=None, variables=None):
            dy = keras.ops.cast(upstream_gradient(args, upstream), slope.dtype)
            return custom_gradient_result(slope * keras.ops.relu(dy), variables)

        return y, grad

    return fn


def deconv(activation: Callable) -> Callable:
    """Deconvnet (rectified) version of `activation`: `g_in = relu(g_out)`, no forward mask.

    Written with `keras.ops.custom_gradient` (TensorFlow, JAX and PyTorch backends).

    Args:
        activation: The forward activation function.

    Returns:
        A function computing the same forward values with the deconvnet gradient.

    Example:
        >>> f = deconv(keras.activations.relu)
        >>> from vis import backend
        >>> z = keras.ops.convert_to_tensor([-1.0, 2.0, 3.0])
        >>> dz = backend.get().vjp(f, z, keras.ops.convert_to_tensor([5.0, 5.0, -5.0]))
        >>> backend.to_numpy(dz)
        array([5., 5., 0.], dtype=float32)
    """

    @keras.ops.custom_gradient
    def fn(z):
        y = activation(z)

        def grad(*args, upstream=None, variables=None):
            dy = upstream_gradient(args, upstream)
            return custom_gradient_result(keras.ops.cast(keras.ops.relu(dy), y.dtype), variables)

        return y, grad

    return fn


class BackpropModifier(abc.ABC):
    """Base class: a rule that overrides gradients in a copy of a model.

    Subclasses implement `apply(model_copy) -> int`, which patches the copy's layers in place
    (they are the copy's own layer objects, never the user's) and returns how many gradient
    overrides it installed. `cache_key` identifies equivalent modifiers so that copies and
    compiled functions can be reused. Pass an instance as `backprop_modifier=`, or register it
    with `register(name, instance)`.

    Attributes:
        name: A display name (used in warnings). Defaults to `"custom"`.

    Example:
        >>> from vis.utils.model import iter_layers
        >>> class GuidedDenseOnly(BackpropModifier):
        ...     name = "guided_dense_only"
        ...     def apply(self, model_copy):
        ...         dense = [layer for _, layer in iter_layers(model_copy)
        ...                  if isinstance(layer, keras.layers.Dense)
        ...                  and getattr(layer.activation, "__name__", "") == "relu"]
        ...         for layer in dense:
        ...             layer.activation = guided(layer.activation)
        ...         return len(dense)
        >>> from vis.visualization import visualize_saliency
        >>> maps = visualize_saliency(model, -1, 3, x, backprop_modifier=GuidedDenseOnly())
    """

    name: str = "custom"

    @property
    def cache_key(self) -> object:
        """A hashable key: modifiers with equal keys share one model copy (default: `self`)."""
        return self

    @abc.abstractmethod
    def apply(self, model_copy: keras.Model) -> int:
        """Installs the gradient overrides on `model_copy`, in place.

        Called once per (user model, `cache_key`) by the engine, on a copy owned by vis: patch
        the copy's layers (e.g. `layer.activation = ...` or `layer.call = ...` with
        `keras.ops.custom_gradient`), never the user's model.

        Args:
            model_copy: The copy of the user's model (a `keras.Model` owned by vis).

        Returns:
            The number of overrides installed; `0` makes the engine warn that the modifier
            changes nothing.

        Raises:
            TypeError: Instantiating a subclass that does not implement it.

        Example:
            >>> from vis.utils.model import copy_model
            >>> get("guided").apply(copy_model(model))  # conv1, conv2 and dense use ReLU
            3
        """


def _is_rectifier_fn(fn) -> bool:
    return getattr(fn, "__name__", "") in RECTIFIER_NAMES


class ActivationModifier(BackpropModifier):
    """A modifier that wraps every rectifier non-linearity of the model with `wrap(activation)`.

    Rectifiers are the `activation` attributes named `relu`, `relu6`, `leaky_relu` or `elu`
    (fused `activation=` of Conv/Dense layers, `Activation('relu')`, ...) and the `ReLU`,
    `LeakyReLU`, `ELU` and `PReLU` layers (whose `call` is wrapped), nested models included.
    `register(name, fn)` and `get(fn)` build one from a plain function.

    Args:
        wrap: A function `activation -> activation` that returns a function with the same forward
            values and a custom gradient (see `guided`, `deconv`).
        name: The registry name. Defaults to `"custom"`.

    Example:
        >>> modifier = ActivationModifier(guided, name="my_guided")
        >>> from vis.visualization import visualize_saliency
        >>> maps = visualize_saliency(model, -1, 3, x, backprop_modifier=modifier)
    """

    def __init__(self, wrap: Callable, name: str = "custom"):
        self.wrap = wrap
        self.name = name

    @property
    def cache_key(self) -> object:
        """`("activation", name, wrap)`: equal for modifiers with the same name and wrapper."""
        return ("activation", self.name, self.wrap)

    def apply(self, model_copy: keras.Model) -> int:
        """Wraps every rectifier of `model_copy` with `wrap`, in place.

        Args:
            model_copy: The copy of the user's model (a `keras.Model` owned by vis).

        Returns:
            The number of wrapped layers (fused activations and rectifier layers).

        Example:
            >>> from vis.utils.model import copy_model
            >>> ActivationModifier(deconv, "deconv").apply(copy_model(model))
            3
        """
        count = 0
        for _, layer in iter_layers(model_copy):
            if isinstance(layer, _RECTIFIER_LAYERS):
                original_call = layer.call
                layer.call = self.wrap(original_call)
                count += 1
            elif _is_rectifier_fn(getattr(layer, "activation", None)):
                # recurrent layers expose their cell's activation as a read-only property
                owner = getattr(layer, "cell", None) or layer
                owner.activation = self.wrap(owner.activation)
                count += 1
        return count


def _coerce(identifier) -> BackpropModifier:
    if isinstance(identifier, BackpropModifier):
        return identifier
    if callable(identifier):
        return ActivationModifier(identifier, getattr(identifier, "__name__", "custom"))
    raise TypeError(
        "`backprop_modifier` must be None, a name, a BackpropModifier or a callable, got "
        f"{type(identifier).__name__}: {identifier!r}."
    )


REGISTRY: Registry[BackpropModifier] = Registry(
    "backprop_modifier", coerce=_coerce,
    accepts="None, a BackpropModifier or a function activation -> activation",
)


def register(name: str, fn: Callable | BackpropModifier) -> None:
    """Registers a backprop modifier under `name`.

    Args:
        name: The name to use as `backprop_modifier=name`.
        fn: Either a `BackpropModifier`, or a function `activation -> activation` whose returned
            function has the same forward values and a custom gradient
            (`keras.ops.custom_gradient`, for every backend; see `upstream_gradient`); it is
            applied to every rectifier non-linearity of the model copy.

    Raises:
        TypeError: If `fn` is neither.
        ValueError: If `name` is empty.

    Example:
        >>> def leaky_guided(activation):
        ...     @keras.ops.custom_gradient
        ...     def f(z):
        ...         def grad(*args, upstream=None, variables=None):
        ...             dy = upstream_gradient(args, upstream)
        ...             dy = keras.ops.where(dy > 0, dy, 0.1 * dy)
        ...             return custom_gradient_result(dy, variables)
        ...         return activation(z), grad
        ...     return f
        >>> register("leaky_guided", leaky_guided)
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty string, got {name!r}.")
    if isinstance(fn, BackpropModifier):
        REGISTRY.register(name, fn)
    elif callable(fn):
        REGISTRY.register(name, ActivationModifier(fn, name))
    else:
        raise TypeError(f"`fn` must be callable or a BackpropModifier, got {type(fn).__name__}.")


def names() -> list[str]:
    """Returns the names of the registered backprop modifiers (aliases included).

    Returns:
        The names, sorted alphabetically (built-ins and those added with `register`).

    Example:
        >>> "guided" in names() and "deconvnet" in names()
        True
    """
    return REGISTRY.names(aliases=True)


def get(identifier) -> BackpropModifier | None:
    """Returns the backprop modifier for a name, an instance or a function.

    Args:
        identifier: `None` (vanilla gradient), a registered name (`'guided'`, `'relu'`,
            `'deconv'`, `'deconvnet'`, `'rectified'`, or one added with `register`), a
            `BackpropModifier`, or a function `activation -> activation`.

    Returns:
        A `BackpropModifier`, or `None` for the vanilla gradient.

    Raises:
        ValueError: If the name is unknown (the message lists the valid names).
        TypeError: If `identifier` is of another type.

    Example:
        >>> get("guided").name
        'guided'
    """
    if identifier is None:
        return None
    return REGISTRY.get(identifier)


register("guided", ActivationModifier(guided, "guided"))
# one instance under four names: the aliases share one model copy
REGISTRY.register("deconvnet", ActivationModifier(deconv, "deconv"),
                  aliases=("relu", "deconv", "rectified"))
