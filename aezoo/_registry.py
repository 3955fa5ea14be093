"""THE registry: one class behind models, evaluators, samplers, tasks, recipes and datasets.

A :class:`Registry` is a read-only mapping from names to values of one kind, with one way to
add (:meth:`Registry.register`), one way to ask (:meth:`Registry.get`: an unknown name is a
one-line error that lists the names and suggests the nearest), and one way to select
(:meth:`Registry.having`). Reading any registry first loads the plug-ins
(:mod:`aezoo._plugins`: the ``aezoo.plugins`` entry-point group, ``$AEZOO_PLUGINS`` and
``--plugin``), so a model, evaluator, sampler, dataset or recipe defined outside aezoo is
known to every command and to Python alike.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from aezoo.errors import ConfigError

T = TypeVar("T")

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def suggestion(name: object, names: Iterable[str]) -> str:
    """``"; did you mean 'vae'?"`` for the nearest of ``names`` (``""`` when none is near)."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class Registry(Mapping[str, T], Generic[T]):
    """Named values of one ``kind`` (``"model"``, ``"evaluator"``, ...).

    Args:
      kind: what the values are, for error messages.
      entries: the built-in values, in the order listings show them.
      check: ``value -> None`` raising :class:`ConfigError` for a value the zoo cannot use
        (run on every registration).
      name_of: how a value names itself (its ``.name``).
      extends: modules that register more built-in values (read on first use).
      then: ``value -> None`` called after each registration (a task that scores runs is
        also an evaluator).
    """

    def __init__(
        self,
        kind: str,
        entries: Iterable[T] = (),
        *,
        check: Callable[[T], None] | None = None,
        name_of: Callable[[T], str] = lambda value: value.name,  # type: ignore[attr-defined]
        extends: tuple[str, ...] = (),
        then: Callable[[T], None] | None = None,
    ) -> None:
        self.kind = kind
        self._check = check
        self._name_of = name_of
        self._extends = extends
        self._then = then
        self._items: dict[str, T] = {}
        for value in entries:
            self.register(value)

    def _ready(self) -> dict[str, T]:
        if self._extends:
            import importlib

            modules, self._extends = self._extends, ()
            for module in modules:
                importlib.import_module(module)
        from aezoo import _plugins

        _plugins.load()
        return self._items

    def register(self, value: T, *, replace: bool = False) -> T:
        """Add ``value`` under its name; a name taken is an error unless ``replace``."""
        if self._check is not None:
            self._check(value)
        name = self._name_of(value)
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ConfigError(
                f"{self.kind} name must be a letter then letters, digits, _ or - (at most 64); "
                f"got {name!r}"
            )
        if name in self._items and not replace:
            raise ConfigError(
                f"a {self.kind} named {name!r} is registered already (register(..., "
                "replace=True) replaces it)"
            )
        self._items[name] = value
        if self._then is not None:
            self._then(value)
        return value

    def unregister(self, name: str) -> T:
        """Remove and return the value called ``name`` (a test's, or one replaced)."""
        return self._ready().pop(name)

    def get(self, name: str, default: Any = ConfigError) -> T:  # type: ignore[override]
        """The value called ``name``; unknown: ``default`` if given, else a one-line
        :class:`ConfigError` naming the nearest name and every name."""
        items = self._ready()
        if isinstance(name, str) and name in items:
            return items[name]
        if default is not ConfigError:
            return default
        raise ConfigError(self.unknown(name))

    def unknown(self, name: object) -> str:
        """The one-line message for an unknown ``name``."""
        names = self.names()
        listed = ", ".join(sorted(names)) or "none"
        return f"unknown {self.kind} {name!r}{suggestion(name, names) or ';'} available: {listed}"

    def names(self) -> tuple[str, ...]:
        """Every name, in registration order."""
        return tuple(self._ready())

    def having(self, predicate: Callable[[T], bool]) -> tuple[str, ...]:
        """The names of the values for which ``predicate`` holds, sorted."""
        return tuple(sorted(name for name, value in self._ready().items() if predicate(value)))

    def __getitem__(self, name: str) -> T:
        return self._ready()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ready())

    def __len__(self) -> int:
        return len(self._ready())

    def __contains__(self, name: object) -> bool:
        return name in self._ready()

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._items)})"


__all__ = ["NAME", "Registry", "suggestion"]
