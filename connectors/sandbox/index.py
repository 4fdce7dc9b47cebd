"""Keyed lookups a sandbox keeps beside its records, so finding a record by a field's value or
walking a page in sort order costs the size of the answer, not the size of the collection.

Indexes are derived data: their owner updates them on every write and rebuilds them after
loading saved state; they are never serialised.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterator
from typing import Any


class ValueIndex:
    """The ids of the records holding each value of one field."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, dict[Hashable, None]] = {}

    def add(self, value: Hashable, ident: Hashable) -> None:
        self._ids.setdefault(value, {})[ident] = None

    def discard(self, value: Hashable, ident: Hashable) -> None:
        ids = self._ids.get(value)
        if ids is not None:
            ids.pop(ident, None)
            if not ids:
                del self._ids[value]

    def ids(self, value: Hashable) -> list[Any]:
        """The ids holding ``value``, in the order they first took it."""
        return list(self._ids.get(value, ()))

    def as_dict(self) -> dict[Hashable, set[Hashable]]:
        return {value: set(ids) for value, ids in self._ids.items()}


class OrderedKeys:
    """Sort keys (such as ``(update_time, id)``) kept in order, walked from a position."""

    def __init__(self) -> None:
        self._keys: list[Any] = []

    def add(self, key: Any) -> None:
        if not self._keys or self._keys[-1] < key:
            self._keys.append(key)  # the common case: the newest write sorts last
        else:
            bisect.insort(self._keys, key)

    def discard(self, key: Any) -> None:
        at = bisect.bisect_left(self._keys, key)
        if at < len(self._keys) and self._keys[at] == key:
            del self._keys[at]

    def after(self, key: Any | None = None, *, inclusive: bool = False) -> Iterator[Any]:
        """Keys in ascending order, from the first one above ``key`` (or from the start)."""
        if key is None:
            start = 0
        elif inclusive:
            start = bisect.bisect_left(self._keys, key)
        else:
            start = bisect.bisect_right(self._keys, key)
        for at in range(start, len(self._keys)):
            yield self._keys[at]

    def before(self, key: Any | None = None) -> Iterator[Any]:
        """Keys in descending order, from the last one below ``key`` (or from the end)."""
        end = len(self._keys) if key is None else bisect.bisect_left(self._keys, key)
        for at in range(end - 1, -1, -1):
            yield self._keys[at]

    def __len__(self) -> int:
        return len(self._keys)

    def as_list(self) -> list[Any]:
        return list(self._keys)
