"""The in-process sandbox's state: records per record type with a change sequence.

Lookups by a field's value and reads of the changes since a sequence number go through indexes
kept current on every write, so a large backfill through the sandbox stays linear.
"""

from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.sandbox.index import OrderedKeys, ValueIndex


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
    # (record type, field) -> ids by the field's text; built on first lookup, then kept current
    _by_value: dict[tuple[str, str], ValueIndex] = field(default_factory=dict)
    # record type -> (seq, external id) of each record's latest write
    _by_seq: dict[str, OrderedKeys] = field(default_factory=dict)

    def next_id(self) -> str:
        with self.lock:
            return str(next(self._ids))

    def put(
        self, record_type: str, external_id: str, fields: dict[str, Any], now: datetime
    ) -> StoredRecord:
        with self.lock:
            stored = StoredRecord(external_id, copy.deepcopy(fields), now, next(self._seq))
            table = self.records.setdefault(record_type, {})
            previous = table.get(external_id)
            table[external_id] = stored
            self._reindex(record_type, previous, stored)
            return stored

    def change(
        self, record_type: str, external_id: str, changes: dict[str, Any], now: datetime
    ) -> StoredRecord:
        with self.lock:
            current = self.records[record_type][external_id]
            merged = {**current.fields, **copy.deepcopy(changes)}
            return self.put(record_type, external_id, merged, now)

    def remove(self, record_type: str, external_id: str) -> StoredRecord | None:
        """Take a record out (a merged one); None when there was none."""
        with self.lock:
            stored = self.records.get(record_type, {}).pop(external_id, None)
            if stored is not None:
                self._seq_keys(record_type).discard((stored.seq, stored.external_id))
                for (indexed_type, field_name), index in self._by_value.items():
                    if indexed_type == record_type:
                        index.discard(_text(stored.fields.get(field_name)), external_id)
            return stored

    def get(self, record_type: str, external_id: str) -> StoredRecord | None:
        with self.lock:
            return self.records.get(record_type, {}).get(external_id)

    def changed_since(self, record_type: str, seq: int, limit: int) -> list[StoredRecord]:
        with self.lock:
            table = self.records.get(record_type, {})
            changed: list[StoredRecord] = []
            for _, external_id in self._seq_keys(record_type).after((seq, "\uffff")):
                if len(changed) >= limit:
                    break
                changed.append(table[external_id])
            return changed

    def find(self, record_type: str, field_name: str, value: str) -> list[StoredRecord]:
        """The records whose ``field_name`` reads as ``value`` (as text; empty for none)."""
        with self.lock:
            index = self._by_value.get((record_type, field_name))
            if index is None:
                index = ValueIndex()
                for stored in self.records.get(record_type, {}).values():
                    index.add(_text(stored.fields.get(field_name)), stored.external_id)
                self._by_value[(record_type, field_name)] = index
            table = self.records.get(record_type, {})
            return [table[str(ident)] for ident in index.ids(value)]

    def all(self, record_type: str) -> list[StoredRecord]:
        with self.lock:
            return list(self.records.get(record_type, {}).values())

    def _seq_keys(self, record_type: str) -> OrderedKeys:
        keys = self._by_seq.get(record_type)
        if keys is None:
            keys = self._by_seq[record_type] = OrderedKeys()
        return keys

    def _reindex(
        self, record_type: str, previous: StoredRecord | None, stored: StoredRecord
    ) -> None:
        keys = self._seq_keys(record_type)
        if previous is not None:
            keys.discard((previous.seq, previous.external_id))
        keys.add((stored.seq, stored.external_id))
        for (indexed_type, field_name), index in self._by_value.items():
            if indexed_type != record_type:
                continue
            if previous is not None:
                index.discard(_text(previous.fields.get(field_name)), previous.external_id)
            index.add(_text(stored.fields.get(field_name)), stored.external_id)


def _text(value: Any) -> str:
    return str(value or "")
