"""The one way cafw finds the code behind a name: a registry beside that code.

A table of named objects (constraint sets, models, datasets and their options, penalties,
compression kinds, charts, paper sections) is a ``Registry``, filled where each object is
defined when its module is imported: by the decorator ``register``, by ``add``, or for a class
hierarchy whose classes take traits from their vocabulary entry (constraint sets, compressors)
by the base class as each subclass is defined.  The names themselves are ``cafw.vocabulary``'s,
which planning reads without importing any of this code; a test keeps each registry's names
equal to its vocabulary table's.  Torch-free, like the vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

T = TypeVar("T")


class Registry(Mapping[str, T]):
    """Named objects of one sort; ``what`` names the sort in messages ("model", "dataset")."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        # two entries under one name would make the winner depend on the import order
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def register(self, *names: str) -> Callable[[T], T]:
        """A decorator that registers what it decorates under each of ``names``."""
        def decorate(entry: T) -> T:
            for name in names:
                self.add(name, entry)
            return entry
        return decorate

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"
