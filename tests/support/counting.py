"""Connectors wrapped to count what is asked of them: a test says a record type was never
listed, or a record read once, by counting the calls that reached the vendor."""

from __future__ import annotations

from collections import Counter
from typing import Any

from connectors.base import Connector, Page


class Wraps:
    """A connector passed through: every attribute not overridden is the inner one's."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.system = inner.system

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class CountsLists(Wraps):
    """Counts the pages listed of each record type."""

    def __init__(self, inner: Connector) -> None:
        super().__init__(inner)
        self.lists: Counter[str] = Counter()

    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        self.lists[record_type] += 1
        return self.inner.list_changed(record_type, cursor, limit=limit)


class CountsReads(Wraps):
    """Counts the reads of each record by id."""

    def __init__(self, inner: Connector) -> None:
        super().__init__(inner)
        self.reads: Counter[str] = Counter()

    def get(self, record_type: str, external_id: str) -> Any:
        self.reads[external_id] += 1
        return self.inner.get(record_type, external_id)
