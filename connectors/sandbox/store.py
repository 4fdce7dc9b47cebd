"""The in-process sandbox's state: records per record type with a change sequence."""

from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class StoredRecord:
    external_id: str
    fields: dict[str, Any]
    updated_at: datetime
    seq: int


@dataclass
class SandboxStore:
    """Thread-safe records of one sandbox system. ``seq`` orders changes for cursors."""

    records: dict[str, dict[str, StoredRecord]] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    lock: threading.RLock = field(default_factory=threading.RLock)
    writes: int = 0

    def next_id(self) -> str:
        with self.lock:
            return str(next(self._ids))

    def put(
        self, record_type: str, external_id: str, fields: dict[str, Any], now: datetime
    ) -> StoredRecord:
        with self.lock:
            stored = StoredRecord(external_id, copy.deepcopy(fields), now, next(self._seq))
            self.records.setdefault(record_type, {})[external_id] = stored
            return stored

    def change(
        self, record_type: str, external_id: str, changes: dict[str, Any], now: datetime
    ) -> StoredRecord:
        with self.lock:
            current = self.records[record_type][external_id]
            merged = {**current.fields, **copy.deepcopy(changes)}
            return self.put(record_type, external_id, merged, now)

    def get(self, record_type: str, external_id: str) -> StoredRecord | None:
        with self.lock:
            return self.records.get(record_type, {}).get(external_id)

    def changed_since(self, record_type: str, seq: int, limit: int) -> list[StoredRecord]:
        with self.lock:
            changed = [r for r in self.records.get(record_type, {}).values() if r.seq > seq]
            changed.sort(key=lambda r: r.seq)
            return changed[:limit]

    def all(self, record_type: str) -> list[StoredRecord]:
        with self.lock:
            return list(self.records.get(record_type, {}).values())
