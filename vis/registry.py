"""`Registry`: the one small name -> object table behind every extension point of vis.

`vis.methods`, `vis.losses`, `vis.grad_modifiers`, `vis.backprop_modifiers` and the sanity
metrics are each one `Registry`. Like `keras.losses.get`, `get()` accepts a registered name (or
alias), a `{"name": ..., **kwargs}` config dict, an object of the registry's kind or a plain
callable, and always returns a ready object; unknown names raise a `ValueError` that lists the
valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A table of named objects with aliases, Keras-style `get`, `register` and `names`.

    Entries are registered as *factories* or as ready objects. `get(name)` returns the ready
    object; for a factory (e.g. a `Loss` class) it calls the factory with the keyword arguments
    given to `get`.

    Args:
        kind: What the entries are, for error messages (e.g. `"grad_modifier"`).
        coerce: Turns anything that is not a registered name or config (an instance, a callable)
            into a ready object, or raises `TypeError`. Defaults to `None`: identity for
            callables, `TypeError` otherwise.
        accepts: A sentence listing what `get` accepts besides names, for error messages.
            Defaults to `"a callable"`.

    Example:
        >>> squares = Registry("transform")
        >>> squares.register("square", lambda a: a * a, aliases=("sq",))
        >>> squares.get("sq")(3)
        9
        >>> squares.names()
        ['square']
    """

    def __init__(self, kind: str, coerce: Callable[[Any], T] | None = None,
                 accepts: str = "a callable"):
        self.kind = kind
        self._coerce = coerce
        self._accepts = accepts
        self._entries: dict[str, tuple[Any, bool]] = {}  # name -> (object or factory, is_factory)
        self._aliases: dict[str, str] = {}

    def register(self, name: str, obj: Any, *, aliases: tuple[str, ...] = (),
                 factory: bool = False) -> None:
        """Registers `obj` under `name` (replacing an earlier entry of that name) and aliases.

        Args:
            name: The canonical name, a non-empty string.
            obj: The ready object, or a factory when `factory` is set.
            aliases: Other names that resolve to `name`. Defaults to `()`.
            factory: `obj` is called with `get`'s keyword arguments to make the object.
                Defaults to `False`.

        Raises:
            ValueError: If `name` or an alias is not a non-empty string.

        Example:
            >>> r = Registry("thing")
            >>> r.register("one", 1)
            >>> r.get("one")
            1
        """
        for n in (name, *aliases):
            if not isinstance(n, str) or not n:
                raise ValueError(f"`name` must be a non-empty string, got {n!r}.")
        self._aliases.pop(name, None)
        self._entries[name] = (obj, factory)
        for alias in aliases:
            self._aliases[alias] = name

    def canonical(self, name: str) -> str:
        """Returns the canonical name of a registered name or alias.

        Args:
            name: A registered name or alias.

        Returns:
            The canonical name.

        Raises:
            ValueError: If the name is unknown (lists the valid names).

        Example:
            >>> r = Registry("thing")
            >>> r.register("one", 1, aliases=("uno",))
            >>> r.canonical("uno")
            'one'
        """
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        valid = ", ".join(self.names())
        aliases = ", ".join(f"{a} -> {c}" for a, c in sorted(self._aliases.items()))
        raise ValueError(
            f"Could not interpret {self.kind} {name!r} (`{self.kind}`). Valid names: {valid}"
            + (f" (aliases: {aliases})" if aliases else "")
            + f"; or {self._accepts}."
        )

    def get(self, identifier: Any, **kwargs: Any) -> T:
        """Returns the ready object for a name, alias, config dict, object or callable.

        Args:
            identifier: A registered name or alias, a dict `{"name": name, **kwargs}`, or
                anything the registry's `coerce` accepts (an object of its kind, a callable).
            **kwargs: Arguments for a registered factory.

        Returns:
            The ready object.

        Raises:
            ValueError: For an unknown name.
            TypeError: For an identifier of an unsupported type, or arguments a factory does
                not accept.

        Example:
            >>> r = Registry("thing")
            >>> r.register("pair", lambda a, b: (a, b), factory=True)
            >>> r.get({"name": "pair", "a": 1, "b": 2})
            (1, 2)
        """
        if isinstance(identifier, dict):
            config = dict(identifier)
            name = config.pop("name", None)
            if not isinstance(name, str):
                raise TypeError(
                    f"A {self.kind} config dict needs a 'name' key with a registered name, got "
                    f"{identifier!r}."
                )
            return self.get(name, **config, **kwargs)
        if isinstance(identifier, str):
            obj, factory = self._entries[self.canonical(identifier)]
            if not factory:
                if kwargs:
                    raise TypeError(
                        f"{self.kind} {identifier!r} takes no arguments, got {sorted(kwargs)}."
                    )
                return obj
            try:
                return obj(**kwargs)
            except TypeError as exc:
                raise TypeError(f"{self.kind} {identifier!r}: {exc}") from None
        if self._coerce is not None:
            return self._coerce(identifier)
        if callable(identifier):
            return identifier
        raise TypeError(
            f"Could not interpret {self.kind} identifier {identifier!r} "
            f"({type(identifier).__name__}): give a registered name or {self._accepts}."
        )

    def names(self, aliases: bool = False) -> list[str]:
        """Returns the registered names, sorted (canonical only unless `aliases`).

        Args:
            aliases: Include the aliases. Defaults to `False`.

        Returns:
            A sorted list of names.

        Example:
            >>> r = Registry("thing")
            >>> r.register("one", 1, aliases=("uno",))
            >>> r.names(), r.names(aliases=True)
            (['one'], ['one', 'uno'])
        """
        out = list(self._entries)
        if aliases:
            out += list(self._aliases)
        return sorted(out)

    def aliases(self, name: str) -> list[str]:
        """Returns the aliases of a canonical name, sorted.

        Args:
            name: A registered canonical name.

        Returns:
            The names that resolve to `name`, itself excluded.

        Example:
            >>> r = Registry("thing")
            >>> r.register("one", 1, aliases=("uno", "eins"))
            >>> r.aliases("one")
            ['eins', 'uno']
        """
        return sorted(a for a, c in self._aliases.items() if c == name)

    def snapshot(self) -> tuple[dict, dict]:
        """The registry's current entries, for `restore` (e.g. around a test).

        Example:
            >>> r = Registry("thing")
            >>> saved = r.snapshot()
            >>> r.register("tmp", 1)
            >>> r.restore(saved)
            >>> "tmp" in r
            False
        """
        return dict(self._entries), dict(self._aliases)

    def restore(self, snapshot: tuple[dict, dict]) -> None:
        """Restores the entries saved by `snapshot`."""
        self._entries, self._aliases = dict(snapshot[0]), dict(snapshot[1])

    def unregister(self, name: str) -> None:
        """Removes a registered name (or alias's target) and its aliases.

        Raises:
            ValueError: For an unknown name.

        Example:
            >>> r = Registry("thing")
            >>> r.register("one", 1, aliases=("uno",))
            >>> r.unregister("uno")
            >>> r.names(aliases=True)
            []
        """
        canonical = self.canonical(name)
        del self._entries[canonical]
        for alias in self.aliases(canonical):
            del self._aliases[alias]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._entries or name in self._aliases)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
