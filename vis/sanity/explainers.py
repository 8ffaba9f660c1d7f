"""The sanity checks' explainers: every method of `vis.methods`, as `(model, x, y) -> maps`.

An explainer maps a model, a batch of inputs `x` and one class index per input `y` to one raw,
signed attribution map per input, explaining the *pre-softmax* score (the logit) of class `y[i]`
of the model's last layer; the metrics of `vis.sanity.metrics` decide themselves whether to take
absolute values or to rescale. Every registered method name or alias works (`vis.methods.names()`;
a method registered with `vis.methods.register` too), and so does any callable
`(model, x, y, **options) -> maps`, which may accept a `batch_size` keyword.

Methods that learn from data (PatternNet, PatternAttribution) are fitted on the model they
explain with the inputs `x` being explained: in a randomization test a randomized model has its
own signal directions. For patterns fitted on training data instead, pass your own callable, e.g.
`lambda m, x, y: PatternNet(m, fit_patterns(m, x_train)).explain(x, per_sample(y))`.
Randomized methods use a fixed seed (SmoothGrad: `seed=0`), so that the trained and the
randomized models see the same noise and their maps differ only through the model. Called
directly, an explainer warns (`vis.errors.ZeroMapWarning` / `NaNMapWarning`) about all-zero or
non-finite maps, as `vis.explain` does; the sanity checks silence the zero-map warnings of the
randomized models, whose maps legitimately vanish.

Example:
    >>> from vis.sanity import explainers
    >>> maps = explainers.get("guided")(model, x_test[:8], y_test[:8])
    >>> maps = explainers.guided_backprop(model, x_test[:8], y_test[:8])  # the same
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from vis import inputs as _inputs
from vis import methods
from vis.errors import warn_if_degenerate
from vis.utils import checks

__all__ = ["Explainer", "get", "names", "register"]


class Explainer:
    """A registered method as a sanity-check explainer `(model, x, y, batch_size=None) -> maps`.

    Args:
        method: A `vis.methods.Method`.

    Example:
        >>> maps = Explainer(vis.methods.get("gradient"))(model, x, y)
    """

    def __init__(self, method: methods.Method):
        self.method = method
        self.__name__ = method.name
        self.__doc__ = method.description

    def __call__(self, model: keras.Model, x: np.ndarray, y, batch_size: int | None = None,
                 **options) -> np.ndarray:
        """The raw maps of `x` for classes `y`, warning about all-zero or non-finite maps.

        Raises:
            ValueError, TypeError: For a bad model, inputs `x` (shape, NaN/inf), labels `y`
                (one int per input, in range) or `batch_size`, naming the argument.
        """
        checks.model(model)
        batch_size = checks.batch_size(batch_size)
        x = _inputs.prepare(model, x, "x").value
        if isinstance(y, np.ndarray) and y.dtype.kind == "f" and y.size and np.all(
                np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)  # whole-number float labels, as the sanity tests take them
        targets = methods.resolve_targets(model, x, y, batch_size=batch_size, param="y")
        missing = [name for name in self.method.requires if options.get(name) is None]
        if self.method.fit is not None and missing:
            options.update(self.method.fit(model, x, batch_size=batch_size))
        maps = np.asarray(self.method(model, x, targets, batch_size=batch_size, **options))
        if maps.ndim >= 2 and len(maps) == len(targets) and np.issubdtype(maps.dtype, np.number):
            warn_if_degenerate(maps, self.method.name, stacklevel=3)
        return maps

    def __repr__(self) -> str:
        return f"Explainer({self.method.name!r})"


_EXPLAINERS: dict[str, Explainer] = {}


def get(identifier) -> Callable[..., np.ndarray]:
    """Returns the explainer for a method name or alias, a `Method`, or the callable itself.

    Args:
        identifier: A registered method name or alias (see `vis.methods.names()`), a
            `vis.methods.Method`, or a callable `(model, x, y, **options) -> maps`.

    Returns:
        The explainer (one object per registered method: `get("guided") is get("guided_backprop")`).

    Raises:
        ValueError: For an unknown name (the message lists the valid names).
        TypeError: For any other type.

    Example:
        >>> get("lrp").method.name
        'lrp_epsilon'
    """
    if isinstance(identifier, str) or isinstance(identifier, methods.Method):
        method = methods.get(identifier)
        cached = _EXPLAINERS.get(method.name)
        if cached is None or cached.method is not method:
            cached = _EXPLAINERS[method.name] = Explainer(method)
        return cached
    if callable(identifier):
        return identifier
    methods.get(identifier)  # raises the registry's TypeError
    raise TypeError(f"`method` must be a method name or a callable, got {identifier!r}.")


def names() -> list[str]:
    """The registered method names (`vis.methods.names()`).

    Example:
        >>> "guided_backprop" in names()
        True
    """
    return methods.names()


def register(name: str, fn: Callable[..., np.ndarray], **metadata) -> None:
    """Registers `fn(model, x, y, **options) -> maps` as a method of `vis.methods`.

    It is then usable by name everywhere: the sanity checks, `vis.explain`, the evaluation and
    the CLI.

    Args:
        name: The name to pass as `method=`.
        fn: The explainer; it may accept a `batch_size` keyword.
        **metadata: `vis.methods.Method` fields (`family`, `signed`, `description`, ...).

    Raises:
        ValueError: If `name` is not a non-empty string.
        TypeError: If `fn` is not callable.

    Example:
        >>> register("relu_gradient", lambda m, x, y, **o: np.maximum(get("gradient")(m, x, y), 0))
    """
    methods.register(name, fn, **metadata)


def __getattr__(name: str):
    if name in methods.REGISTRY:
        return get(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
