"""`Metric`: the record every evaluation metric is, and the registry `vis.evaluate` draws on."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vis.registry import Registry

__all__ = ["Metric", "NEEDS", "FAMILIES", "REGISTRY", "register", "unregister", "get", "names",
           "table"]

# What a metric is called with (see `Metric`).
NEEDS = ("maps", "model", "method", "masks")
FAMILIES = ("faithfulness", "robustness", "complexity", "localization", "randomization",
            "custom")


@dataclass(frozen=True)
class Metric:
    """An evaluation metric: a function, what it needs, and which direction is better.

    `fn` is called in one of four ways, by `needs`, and returns one value per sample `(N,)`
    (or a `vis.metrics.Curve`, summarized by its attribute `summary`):

    - `'maps'`: `fn(maps, **options)`: the maps alone (complexity).
    - `'model'`: `fn(model, inputs, maps, targets, **options)`: maps and the model
      (faithfulness, infidelity).
    - `'method'`: `fn(model, inputs, targets, method, **options)`: recomputes maps with the
      method (robustness, randomization).
    - `'masks'`: `fn(maps, masks, **options)`: maps and boolean ground-truth masks
      (localization).

    `vis.evaluate` gives `'maps'` and `'masks'` metrics the maps summed over the input's
    channel axis (one value per pixel), and the others the raw maps.

    Attributes:
        name: The canonical name (`vis.evaluate(..., metrics=[name])`).
        fn: The function.
        needs: `'maps'`, `'model'`, `'method'` or `'masks'`. Defaults to `'model'`.
        higher_is_better: The direction in which the metric improves. Defaults to `True`.
        family: `'faithfulness'`, `'robustness'`, `'complexity'`, `'localization'`,
            `'randomization'` or `'custom'`. Defaults to `'custom'`.
        description: One line saying what the metric measures.
        paper: The reference (authors, year, link).
        summary: For a metric returning a `Curve`: the attribute that gives one value per
            sample (`'auc'` or `'aopc'`). Defaults to `None`.
        options: Options bound with `bind` (e.g. `steps=50`), passed on every call.
        aliases: Other names that resolve to this metric.

    Example:
        >>> import vis.metrics
        >>> m = vis.metrics.get("deletion")
        >>> m.needs, m.higher_is_better, m.summary
        ('model', False, 'auc')
        >>> m.bind(steps=20).options
        {'steps': 20}
    """

    name: str
    fn: Callable[..., Any]
    needs: str = "model"
    higher_is_better: bool = True
    family: str = "custom"
    description: str = ""
    paper: str = ""
    summary: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"`name` must be a non-empty string, got {self.name!r}.")
        if not callable(self.fn):
            raise TypeError(f"Metric {self.name!r}: `fn` must be callable, got {self.fn!r}.")
        if self.needs not in NEEDS:
            raise ValueError(
                f"Metric {self.name!r}: `needs` must be one of {list(NEEDS)}, got {self.needs!r}."
            )
        if self.family not in FAMILIES:
            raise ValueError(
                f"Metric {self.name!r}: `family` must be one of {list(FAMILIES)}, got "
                f"{self.family!r}."
            )
        if self.summary not in (None, "auc", "aopc"):
            raise ValueError(
                f"Metric {self.name!r}: `summary` must be None, 'auc' or 'aopc', got "
                f"{self.summary!r}."
            )
        object.__setattr__(self, "options", dict(self.options))

    def accepts(self, option: str, explicit: bool = False) -> bool:
        """Whether `fn` takes the keyword option `option` (or any keyword, unless `explicit`).

        Example:
            >>> get("deletion").accepts("steps")
            True
        """
        try:
            params = inspect.signature(self.fn).parameters
        except (TypeError, ValueError):
            return True
        if option in params:
            return params[option].kind in (inspect.Parameter.KEYWORD_ONLY,
                                           inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return not explicit and any(p.kind == inspect.Parameter.VAR_KEYWORD
                                    for p in params.values())

    def bind(self, **options) -> Metric:
        """A copy of the metric with `options` bound (e.g. `steps=20`).

        Raises:
            TypeError: For an option `fn` does not take.

        Example:
            >>> get("insertion").bind(steps=20, baseline="blur").options["steps"]
            20
        """
        unknown = [k for k in options if not self.accepts(k)]
        if unknown:
            raise TypeError(f"Metric {self.name!r} does not take the option(s) {unknown}.")
        return dataclasses.replace(self, options={**self.options, **options})

    def __call__(self, *args, **kwargs):
        """Calls `fn(*args, **options, **kwargs)`."""
        return self.fn(*args, **{**self.options, **kwargs})

    def values(self, result) -> np.ndarray:
        """One float per sample from what `fn` returned (a `Curve`'s `summary`, or the array).

        Raises:
            ValueError: If the result is not one value per sample.
        """
        if self.summary is not None and hasattr(result, self.summary):
            result = getattr(result, self.summary)
        values = np.asarray(result, dtype="float64")
        if values.ndim != 1:
            raise ValueError(
                f"Metric {self.name!r} returned shape {values.shape}; expected one value per "
                "sample, shape (N,)."
            )
        return values


def _coerce(identifier) -> Metric:
    if isinstance(identifier, Metric):
        return identifier
    if callable(identifier):
        return Metric(
            name=getattr(identifier, "__name__", type(identifier).__name__), fn=identifier,
            needs=getattr(identifier, "needs", "model"),
            higher_is_better=bool(getattr(identifier, "higher_is_better", True)),
        )
    raise TypeError(
        f"A metric must be a registered name, a vis.metrics.Metric or a callable, got "
        f"{type(identifier).__name__}: {identifier!r}."
    )


REGISTRY: Registry[Metric] = Registry(
    "metric", coerce=_coerce,
    accepts="a vis.metrics.Metric, a {'name': ..., **options} dict or a callable "
            "(model, inputs, maps, targets) -> (N,)",
)


def register(name_or_metric: str | Metric, fn: Callable | None = None, **metadata) -> Metric:
    """Registers a metric, so that `vis.evaluate(metrics=[name])` finds it.

    Args:
        name_or_metric: A `Metric`, or the name of a new one.
        fn: With a name: the function (see `Metric` for how it is called).
        **metadata: With a name: the other `Metric` fields (`needs`, `higher_is_better`,
            `family`, `description`, `paper`, `summary`, `aliases`).

    Returns:
        The registered `Metric` (replacing an earlier one of the same name).

    Raises:
        TypeError: If `fn` is not callable, or a `Metric` comes with extra arguments.
        ValueError: For an empty name or invalid metadata.

    Example:
        >>> import numpy as np
        >>> def peak(maps):
        ...     "The largest absolute attribution."
        ...     return np.abs(maps).reshape(len(maps), -1).max(axis=1)
        >>> register("peak", peak, needs="maps", higher_is_better=True)
        Metric(name='peak', ...)
    """
    if isinstance(name_or_metric, Metric):
        if fn is not None or metadata:
            raise TypeError("register(metric): give a Metric alone, or a name and a function.")
        metric = name_or_metric
    else:
        if fn is None or not callable(fn):
            raise TypeError(f"register({name_or_metric!r}, fn): `fn` must be callable, got "
                            f"{type(fn).__name__}.")
        if "description" not in metadata:
            doc = inspect.getdoc(fn) or ""
            metadata["description"] = doc.strip().splitlines()[0] if doc.strip() else ""
        metric = Metric(name=name_or_metric, fn=fn, **metadata)
    REGISTRY.register(metric.name, metric.bind, aliases=tuple(metric.aliases), factory=True)
    return metric


def unregister(name: str) -> None:
    """Removes a registered metric and its aliases.

    Raises:
        ValueError: For an unknown name.
    """
    REGISTRY.unregister(name)


def get(identifier, **options) -> Metric:
    """The `Metric` for a name or alias (with `options` bound), a config dict, or a callable.

    Args:
        identifier: A registered name or alias, `{"name": name, **options}`, a `Metric`, or a
            callable (a `'model'` metric `(model, inputs, maps, targets) -> (N,)` unless it has
            a `needs` attribute; higher is better unless its `higher_is_better` attribute says
            otherwise).
        **options: Options to bind to a registered metric.

    Returns:
        The `Metric`.

    Raises:
        ValueError: For an unknown name (the message lists the valid names).
        TypeError: For other types, or options the metric does not take.

    Example:
        >>> get({"name": "deletion", "steps": 20}).options
        {'steps': 20}
    """
    return REGISTRY.get(identifier, **options)


def names(aliases: bool = False) -> list[str]:
    """The registered metric names, sorted.

    Example:
        >>> "deletion" in names()
        True
    """
    return REGISTRY.names(aliases)


def table() -> list[dict[str, Any]]:
    """One row per registered metric: name, family, needs, higher_is_better, description, paper.

    Returns:
        A list of dicts, sorted by family then name.

    Example:
        >>> [r["name"] for r in table() if r["family"] == "complexity"]
        ['complexity', 'sparseness']
    """
    order = {f: i for i, f in enumerate(FAMILIES)}
    rows = []
    for name in names():
        m = get(name)
        rows.append({"name": m.name, "family": m.family, "needs": m.needs,
                     "higher_is_better": m.higher_is_better, "description": m.description,
                     "paper": m.paper})
    return sorted(rows, key=lambda r: (order.get(r["family"], len(order)), r["name"]))
