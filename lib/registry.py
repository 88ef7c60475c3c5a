"""One shape for every extension point: ``register(name, obj)`` and ``get(name)``.

Report declarations, output formats, delivery transports and data sources each keep one
``Registry``. Built-ins are registered explicitly at the entry point that needs them,
never as an import side effect (papermill's engines and I/O handlers work the same way).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from lib.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named objects of one kind; an unknown name is answered with the known ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T, *, replace: bool = False) -> T:
        """Register ``obj`` under ``name``; refuses to overwrite unless ``replace``."""
        if name in self._items and not replace and self._items[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = obj
        return obj

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, list(self._items)) from None

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
