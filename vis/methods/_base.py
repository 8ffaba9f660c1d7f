"""`Method`: the record every attribution method is, and the one registry that holds them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vis.registry import Registry

__all__ = ["Method", "FAMILIES", "REGISTRY", "register", "get", "names", "table"]

FAMILIES = ("gradient", "cam", "propagation", "perturbation", "control", "custom")

# Options every consumer may pass; a user callable that does not take one of them gets it only
# when it differs from the default.
_INFRASTRUCTURE = {"output": -1, "layer": None, "batch_size": None}


@dataclass(frozen=True)
class Method:
    """An attribution method: a name, what it is, and one `raw` function.

    `raw(model, inputs, targets, **options) -> np.ndarray` returns raw, signed, unnormalized
    maps of the pre-softmax target score, one per sample: shaped like `inputs`, or like their
    spatial axes for `output="spatial"` methods (the CAM family). `targets` is always a 1-D int
    array, one class / unit index per sample. Calling a `Method` calls `raw`, checking options.

    Attributes:
        name: The canonical name (`vis.explain(..., method=name)`).
        raw: The function computing the maps.
        family: `'gradient'`, `'cam'`, `'propagation'`, `'perturbation'`, `'control'` or
            `'custom'`.
        signed: Whether the maps carry a sign (positive and negative evidence).
        description: One line saying what the map is.
        paper: The reference (authors, year, link).
        aliases: Other names that resolve to this method.
        output: `'input'` (maps shaped like the input) or `'spatial'` (input spatial shape).
        fit: For methods that learn from data (PatternNet): `fit(model, x, batch_size=None) ->
            options` computes the options they need (e.g. `{"patterns": ...}`). `vis.explain`
            never calls it: it asks the user for the fitted options; the sanity checks and the
            evaluation fit each model on the inputs they explain.
        requires: The options that `fit` provides and `raw` cannot do without.
        token_reduction: How `vis.explain` reduces the embedding axis of maps of token inputs
            (`(N, T, D)` -> `(N, T)`): `'sum'` for attributions (IG, gradient x input), or
            `'max_abs'` for saliency maps (the largest gradient magnitude, like the channel axis
            of keras-vis saliency).

    Example:
        >>> import vis
        >>> m = vis.methods.get("guided")
        >>> m.name, m.family, m.signed
        ('guided_backprop', 'gradient', True)
        >>> maps = m(model, x, y)  # == m.raw(model, x, y)
    """

    name: str
    raw: Callable[..., np.ndarray]
    family: str = "custom"
    signed: bool = True
    description: str = ""
    paper: str = ""
    aliases: tuple[str, ...] = ()
    output: str = "input"
    fit: Callable[..., dict] | None = None
    requires: tuple[str, ...] = ()
    token_reduction: str = "sum"
    _params: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"`name` must be a non-empty string, got {self.name!r}.")
        if not callable(self.raw):
            raise TypeError(f"Method {self.name!r}: `raw` must be callable, got {self.raw!r}.")
        if self.family not in FAMILIES:
            raise ValueError(
                f"Method {self.name!r}: `family` must be one of {list(FAMILIES)}, got "
                f"{self.family!r}."
            )
        if self.token_reduction not in ("sum", "max_abs"):
            raise ValueError(
                f"Method {self.name!r}: `token_reduction` must be 'sum' or 'max_abs', got "
                f"{self.token_reduction!r}."
            )
        if self.output not in ("input", "spatial"):
            raise ValueError(
                f"Method {self.name!r}: `output` must be 'input' or 'spatial', got {self.output!r}."
            )
        try:
            params = inspect.signature(self.raw).parameters
        except (TypeError, ValueError):
            params = None
        object.__setattr__(self, "_params", params)

    def accepts(self, option: str) -> bool:
        """Whether `raw` takes the keyword option `option` (or any keyword, `**options`).

        Example:
            >>> get("integrated_gradients").accepts("steps")
            True
        """
        if self._params is None:
            return True
        if option in self._params:
            return self._params[option].kind in (inspect.Parameter.KEYWORD_ONLY,
                                                  inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return any(p.kind == inspect.Parameter.VAR_KEYWORD for p in self._params.values())

    def options(self) -> dict[str, Any]:
        """The keyword options of `raw` and their defaults.

        Example:
            >>> get("integrated_gradients").options()["steps"]
            50
        """
        if self._params is None:
            return {}
        return {n: p.default for n, p in self._params.items()
                if p.kind == inspect.Parameter.KEYWORD_ONLY}

    def __call__(self, model, inputs, targets, **options) -> np.ndarray:
        """Calls `raw(model, inputs, targets, **options)`.

        The consumer options `output`, `layer` and `batch_size` are dropped for a `raw` that
        does not take them while they have their default value; any other option `raw` does not
        take raises a `TypeError` naming the method and its options.
        """
        kwargs = {}
        for key, value in options.items():
            if self.accepts(key):
                kwargs[key] = value
            elif key in _INFRASTRUCTURE and _is_default(value, _INFRASTRUCTURE[key]):
                continue
            else:
                valid = sorted(self.options())
                raise TypeError(
                    f"Method {self.name!r} does not take the option `{key}`"
                    + (f"; its options are {valid}." if valid else "; it takes no options.")
                )
        return self.raw(model, inputs, targets, **kwargs)


def _is_default(value, default) -> bool:
    return value is None if default is None else (
        not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value == default
    )


def _coerce(identifier) -> Method:
    if isinstance(identifier, Method):
        return identifier
    if callable(identifier):
        return Method(name=getattr(identifier, "__name__", type(identifier).__name__),
                      raw=identifier, description=_first_line(identifier))
    raise TypeError(
        f"`method` must be a method name, a vis.methods.Method or a callable "
        f"(model, inputs, targets, **options) -> maps, got {type(identifier).__name__}: "
        f"{identifier!r}."
    )


def _first_line(fn) -> str:
    doc = inspect.getdoc(fn) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


REGISTRY: Registry[Method] = Registry(
    "method", coerce=_coerce,
    accepts="a vis.methods.Method or a callable (model, inputs, targets, **options) -> maps",
)


def register(name_or_method: str | Method, raw: Callable | None = None, **metadata) -> Method:
    """Registers an attribution method, so that every part of vis can use it by name.

    After `register("mine", fn)`, `"mine"` works in `vis.explain`, `smooth=`, the sanity checks,
    the evaluation and the CLI (`vis saliency --method mine`), and `vis methods` lists it.

    Args:
        name_or_method: A `Method`, or the name of a new one.
        raw: With a name: the function `raw(model, inputs, targets, **options) -> maps`
            (raw signed maps, one per sample; `targets` a 1-D int array).
        **metadata: With a name: the other `Method` fields (`family`, `signed`,
            `description`, `paper`, `aliases`, `output`, `fit`, `requires`). The description
            defaults to the first line of `raw`'s docstring.

    Returns:
        The registered `Method` (replacing an earlier one of the same name).

    Raises:
        TypeError: If `raw` is not callable, or a `Method` comes with extra arguments.
        ValueError: For an empty name or invalid metadata.

    Example:
        >>> import vis
        >>> def grad_sign(model, inputs, targets, **options):
        ...     "The sign of the gradient."
        ...     return np.sign(vis.methods.get("gradient")(model, inputs, targets, **options))
        >>> vis.methods.register("grad_sign", grad_sign, family="gradient")
        Method(name='grad_sign', ...)
        >>> maps = vis.explain(model, x, "grad_sign")
    """
    if isinstance(name_or_method, Method):
        if raw is not None or metadata:
            raise TypeError("register(method): give a Method alone, or a name and a function.")
        method = name_or_method
    else:
        if raw is None or not callable(raw):
            raise TypeError(f"register({name_or_method!r}, raw): `raw` must be callable, got "
                            f"{type(raw).__name__}.")
        metadata.setdefault("description", _first_line(raw))
        method = Method(name=name_or_method, raw=raw, **metadata)
    REGISTRY.register(method.name, method, aliases=tuple(method.aliases))
    return method


def unregister(name: str) -> None:
    """Removes a registered method and its aliases (for tests and interactive sessions).

    Args:
        name: A canonical name or alias.

    Raises:
        ValueError: For an unknown name.

    Example:
        >>> unregister("grad_sign")
    """
    REGISTRY.unregister(name)


def get(identifier) -> Method:
    """Returns the `Method` for a name or alias, a `Method`, or a plain callable.

    Args:
        identifier: A registered name or alias (see `names()`), a `Method`, or a callable
            `(model, inputs, targets, **options) -> maps` (wrapped as a `custom` method).

    Returns:
        The `Method`.

    Raises:
        ValueError: For an unknown name (the message lists the valid names and aliases).
        TypeError: For any other type.

    Example:
        >>> get("gradcam++").name
        'gradcam_plus_plus'
    """
    return REGISTRY.get(identifier)


def names(aliases: bool = False) -> list[str]:
    """The registered method names, sorted.

    Args:
        aliases: Include the aliases. Defaults to `False`.

    Returns:
        A sorted list of names.

    Example:
        >>> "integrated_gradients" in names()
        True
    """
    return REGISTRY.names(aliases)


def table() -> list[dict[str, Any]]:
    """One row per registered method: name, aliases, family, signed, description, paper.

    Returns:
        A list of dicts, sorted by family then name (what `vis methods` prints).

    Example:
        >>> [row["name"] for row in table() if row["family"] == "cam"][:2]
        ['gradcam', 'gradcam_plus_plus']
    """
    order = {f: i for i, f in enumerate(FAMILIES)}
    rows = []
    for name in names():
        m = get(name)
        rows.append({"name": m.name, "aliases": REGISTRY.aliases(m.name), "family": m.family,
                     "signed": m.signed, "description": m.description, "paper": m.paper})
    return sorted(rows, key=lambda r: (order.get(r["family"], len(order)), r["name"]))
