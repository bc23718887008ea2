"""One registry shape for every pluggable axis: name -> factory.

Evidence readers, engines, report formats, ledger stores, deploy targets and metric sources
each keep one :class:`Registry` next to their interface. Adding an implementation is adding a
module and one ``register`` line; the CLI offers ``registry.names()`` to ``click.Choice``; an
unknown name is one clear error of the axis's own type, listing the known names.

Factories may be registered lazily (``register_lazy``: a ``"module:attribute"`` string), so
an axis whose implementations import heavy libraries (Kubernetes client, psycopg) costs
nothing until one is asked for, and a registry never has to import its implementations at
import time (which is what caused the deploy-target import cycle).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from gatekeeper.errors import ConfigError, GatekeeperError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> factory of ``T``, in registration order (which may carry meaning, e.g. the
    detection priority of evidence readers)."""

    def __init__(
        self,
        axis: str,
        *,
        error: type[GatekeeperError] = ConfigError,
        default: str | None = None,
        plural: str | None = None,
    ) -> None:
        self.axis = axis  # "engine", "report format", ... (used in messages)
        self._plural = plural  # "known sources: ..." instead of "known: ..." in messages
        self.default = default
        self._error = error
        self._factories: dict[str, Callable[[], T]] = {}
        self._lazy: dict[str, str] = {}
        self._order: list[str] = []

    def register(self, name: str, factory: Callable[[], T]) -> Callable[[], T]:
        """Add ``factory`` under ``name``; returns it so it can be used as a decorator on a
        class (``@REGISTRY.register_class``) or called with a function."""
        self._claim(name)
        self._factories[name] = factory
        return factory

    def register_lazy(self, name: str, target: str) -> None:
        """Add ``"package.module:attribute"``, imported the first time ``name`` is asked for."""
        if ":" not in target:
            raise ValueError(f"lazy target must be 'module:attribute', got {target!r}")
        self._claim(name)
        self._lazy[name] = target

    def _claim(self, name: str) -> None:
        if name in self._factories or name in self._lazy:
            raise ValueError(f"{self.axis} {name!r} registered twice")
        self._order.append(name)

    def names(self) -> list[str]:
        """Registered names in registration order (sort them for a ``click.Choice``)."""
        return list(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._factories or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def factory(self, name: str) -> Callable[[], T]:
        """The factory for ``name``; an unknown name is the axis's error listing the known."""
        found = self._factories.get(name)
        if found is not None:
            return found
        target = self._lazy.get(name)
        if target is None:
            raise self._error(self.unknown_message(name))
        module_name, _, attribute = target.partition(":")
        loaded: Callable[[], T] = getattr(importlib.import_module(module_name), attribute)
        self._factories[name] = loaded
        return loaded

    def create(self, name: str) -> T:
        """A new instance from the factory registered under ``name``."""
        return self.factory(name)()

    def unknown_message(self, name: str) -> str:
        known = ", ".join(sorted(self._order))
        label = f"known {self._plural}" if self._plural else "known"
        return f"unknown {self.axis} {name!r}; {label}: {known}"
