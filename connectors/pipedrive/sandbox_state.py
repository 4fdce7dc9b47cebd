"""The Pipedrive sandbox's memory: deals, persons, organizations and field definitions, kept in
the v2 item shape so the HTTP layer only filters, pages and serialises them."""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from connectors.clock import Clock
from connectors.sandbox.index import OrderedKeys, ValueIndex

RECORD_TYPES = ("deal", "person", "organization")
SORTABLE = ("id", "update_time", "add_time")  # the v2 lists' sort_by values

# The built-in fields each entity lists next to its custom ones (key, name, field_type).
STANDARD_FIELDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "deal": (
        ("title", "Title", "varchar"),
        ("value", "Value", "monetary"),
        ("org_id", "Organization", "org"),
        ("person_id", "Contact person", "people"),
    ),
    "person": (("name", "Name", "varchar"), ("org_id", "Organization", "org")),
    "organization": (("name", "Name", "varchar"), ("address", "Address", "address")),
}
REQUIRED = {"deal": "title", "person": "name", "organization": "name"}
DEFAULTS: dict[str, dict[str, Any]] = {
    "deal": {
        "value": 0,
        "currency": "EUR",
        "status": "open",
        "owner_id": 1,
        "pipeline_id": 1,
        "stage_id": 1,
        "is_deleted": False,
        "is_archived": False,
        "visible_to": 3,
        "label_ids": [],
    },
    "person": {"owner_id": 1, "emails": [], "phones": [], "is_deleted": False, "visible_to": 3},
    "organization": {"owner_id": 1, "is_deleted": False, "visible_to": 3, "label_ids": []},
}
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class BadRequest(Exception):
    """A write the sandbox refuses with 400, carrying Pipedrive's error text."""


def rfc3339(when: datetime) -> str:
    return when.strftime(TIME_FORMAT)


class SandboxState:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.items: dict[str, dict[int, dict[str, Any]]] = {t: {} for t in RECORD_TYPES}
        self.fields: dict[str, list[dict[str, Any]]] = {t: [] for t in RECORD_TYPES}
        self._next_id = dict.fromkeys(RECORD_TYPES, 1)
        self._next_field_id = 1
        # derived from ``items``, kept current on every write and rebuilt by from_state
        self._order: dict[str, dict[str, OrderedKeys]] = {}
        self._values: dict[tuple[str, str], ValueIndex] = {}
        self._reindex_all()
        # (record_type, action, current, previous) after each write, e.g. to queue webhooks
        self.on_change: Callable[[str, str, dict[str, Any], dict[str, Any] | None], None] | None
        self.on_change = None
        for record_type, standard in STANDARD_FIELDS.items():
            for key, name, field_type in standard:
                self._append_field(record_type, key, name, field_type, custom=False)

    # -- fields ---------------------------------------------------------------------------

    def add_field(self, record_type: str, name: str, field_type: str = "varchar") -> dict[str, Any]:
        with self.lock:
            digest = hashlib.sha1(f"{record_type}:{name}:{self._next_field_id}".encode())
            return self._append_field(record_type, digest.hexdigest(), name, field_type, True)

    def field_key(self, record_type: str, name: str) -> str | None:
        with self.lock:
            return next((f["key"] for f in self.fields[record_type] if f["name"] == name), None)

    def custom_keys(self, record_type: str) -> set[str]:
        with self.lock:
            return {f["key"] for f in self.fields[record_type] if f["edit_flag"]}

    def _append_field(
        self, record_type: str, key: str, name: str, field_type: str, custom: bool
    ) -> dict[str, Any]:
        now = rfc3339(self.clock.now())
        field = {
            "id": self._next_field_id,
            "key": key,
            "name": name,
            "order_nr": len(self.fields[record_type]) + 1,
            "field_type": field_type,
            "add_time": now,
            "update_time": now,
            "active_flag": True,
            "edit_flag": custom,
            "mandatory_flag": False,
            "searchable_flag": custom,
            "options": None,
        }
        self._next_field_id += 1
        self.fields[record_type].append(field)
        return field

    # -- persistence ----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything a restarted sandbox needs to answer as before, as JSON-ready data."""
        with self.lock:
            return {
                "items": {t: list(copy.deepcopy(self.items[t]).values()) for t in RECORD_TYPES},
                "fields": copy.deepcopy(self.fields),
                "next_id": dict(self._next_id),
                "next_field_id": self._next_field_id,
            }

    def from_state(self, state: Mapping[str, Any]) -> None:
        with self.lock:
            self.items = {
                t: {int(item["id"]): item for item in state["items"].get(t, [])}
                for t in RECORD_TYPES
            }
            self.fields = {t: list(state["fields"].get(t, [])) for t in RECORD_TYPES}
            self._next_id = {t: int(state["next_id"][t]) for t in RECORD_TYPES}
            self._next_field_id = int(state["next_field_id"])
            self._reindex_all()

    # -- items ----------------------------------------------------------------------------

    def insert(self, record_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        required = REQUIRED[record_type]
        if not body.get(required):
            raise BadRequest(f"{required} is required")
        with self.lock:
            ident = self._next_id[record_type]
            now = rfc3339(self.clock.now())
            item: dict[str, Any] = {"id": ident, **DEFAULTS[record_type], "custom_fields": {}}
            item["add_time"] = now
            self._apply(record_type, item, body, now)
            self._next_id[record_type] = ident + 1
            self.items[record_type][ident] = item
            self._index(record_type, None, item)
            self._changed(record_type, "added", item, None)
            return dict(item)

    def patch(self, record_type: str, ident: int, body: Mapping[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            item = self.items[record_type].get(ident)
            if item is None:
                return None
            if REQUIRED[record_type] in body and not body[REQUIRED[record_type]]:
                raise BadRequest(f"{REQUIRED[record_type]} cannot be empty")
            previous = dict(item)
            self._apply(record_type, item, body, rfc3339(self.clock.now()))
            self._index(record_type, previous, item)
            self._changed(record_type, "updated", item, previous)
            return dict(item)

    def merge(self, record_type: str, merged_id: int, keep_id: int) -> dict[str, Any] | None:
        """Fold ``merged_id`` into ``keep_id`` as Pipedrive's merge does; None when either
        is missing."""
        with self.lock:
            table = self.items[record_type]
            merged, kept = table.get(merged_id), table.get(keep_id)
            if merged is None or kept is None:
                return None
            previous = dict(kept)
            now = rfc3339(self.clock.now())
            for key, value in merged.items():
                if key == "custom_fields":
                    custom = kept.setdefault("custom_fields", {})
                    for field_key, field_value in (value or {}).items():
                        if _empty(custom.get(field_key)):
                            custom[field_key] = field_value
                elif _empty(kept.get(key)):
                    kept[key] = value
            kept["update_time"] = now
            self._index(record_type, previous, kept)
            self._unindex(record_type, merged)
            del table[merged_id]
            self._repoint(record_type, merged_id, keep_id, now)
            self._changed(record_type, "merged", kept, merged)
            return dict(kept)

    def _repoint(self, record_type: str, old: int, new: int, now: str) -> None:
        """Related records follow the merge: deals and persons of a merged organization (or
        deals of a merged person) now point at the kept one."""
        key = {"organization": "org_id", "person": "person_id"}.get(record_type)
        if key is None:
            return
        for other_type in ("deal", "person"):
            for item in self.items[other_type].values():
                if item.get(key) == old:
                    previous = dict(item)
                    item[key] = new
                    item["update_time"] = now
                    self._index(other_type, previous, item)

    def get(self, record_type: str, ident: int) -> dict[str, Any] | None:
        with self.lock:
            item = self.items[record_type].get(ident)
            return dict(item) if item is not None else None

    def all(self, record_type: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(item) for item in self.items[record_type].values()]

    def ordered(
        self,
        record_type: str,
        sort_by: str,
        *,
        after: tuple[Any, int] | None = None,
        descending: bool = False,
        since: Any = None,
    ) -> Iterator[dict[str, Any]]:
        """The live items in ``(sort_by, id)`` order from a page cursor, without copying the
        collection; ``since`` starts an ascending walk at that value. Hold the lock while
        walking and copy what leaves it."""
        keys = self._order[record_type][sort_by]
        table = self.items[record_type]
        if descending:
            walk = keys.before(after)
        elif after is not None:
            walk = keys.after(after)
        else:
            walk = keys.after((since,) if since is not None else None, inclusive=True)
        for _, ident in walk:
            yield table[ident]

    def matching(self, record_type: str, key: str, value: str) -> list[dict[str, Any]]:
        """Live items whose field ``key`` (custom or standard) reads exactly ``value``, by id."""
        index = self._values.get((record_type, key))
        if index is None:
            index = self._values[(record_type, key)] = ValueIndex()
            for item in self.items[record_type].values():
                index.add(_field_text(item, key), item["id"])
        table = self.items[record_type]
        return [table[int(ident)] for ident in sorted(index.ids(value))]

    def _reindex_all(self) -> None:
        self._order = {t: {s: OrderedKeys() for s in SORTABLE} for t in RECORD_TYPES}
        self._values = {}
        for record_type in RECORD_TYPES:
            for item in self.items[record_type].values():
                self._index(record_type, None, item)

    def _index(
        self, record_type: str, previous: Mapping[str, Any] | None, item: Mapping[str, Any]
    ) -> None:
        for sort_by, keys in self._order[record_type].items():
            if previous is not None:
                keys.discard((previous[sort_by], previous["id"]))
            keys.add((item[sort_by], item["id"]))
        for (indexed_type, key), index in self._values.items():
            if indexed_type == record_type:
                if previous is not None:
                    index.discard(_field_text(previous, key), previous["id"])
                index.add(_field_text(item, key), item["id"])

    def _unindex(self, record_type: str, item: Mapping[str, Any]) -> None:
        for sort_by, keys in self._order[record_type].items():
            keys.discard((item[sort_by], item["id"]))
        for (indexed_type, key), index in self._values.items():
            if indexed_type == record_type:
                index.discard(_field_text(item, key), item["id"])

    def _changed(
        self, record_type: str, action: str, item: dict[str, Any], previous: dict[str, Any] | None
    ) -> None:
        if self.on_change is not None:
            self.on_change(record_type, action, dict(item), previous)

    def _apply(
        self, record_type: str, item: dict[str, Any], body: Mapping[str, Any], now: str
    ) -> None:
        """Null means "absent": the schema declares keys like ``org_id`` non-nullable."""
        if record_type == "deal" and body.get("status") not in (None, "open", "won", "lost"):
            raise BadRequest(f"status must be open, won or lost, not {body['status']!r}")
        custom = body.get("custom_fields") or {}
        unknown = sorted(set(custom) - self.custom_keys(record_type))
        if unknown:
            raise BadRequest(f"unknown custom field key(s): {', '.join(unknown)}")
        for key, value in body.items():
            if key == "custom_fields":
                continue
            if value is None:
                item.pop(key, None)
            else:
                item[key] = value
        item["custom_fields"] = {**item.get("custom_fields", {}), **custom}
        if record_type == "deal" and "status" in body:
            self._close(item, str(body["status"]), now)
        item["update_time"] = now

    @staticmethod
    def _close(item: dict[str, Any], status: str, now: str) -> None:
        for key in ("won_time", "lost_time"):
            item.pop(key, None)
        if status == "open":
            item["close_time"] = None
            return
        item[f"{status}_time"] = now
        item["close_time"] = now


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _field_text(item: Mapping[str, Any], key: str) -> str:
    value = (item.get("custom_fields") or {}).get(key, item.get(key))
    return "" if value is None else str(value)
