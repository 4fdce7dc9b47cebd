"""What the connector remembers about its audience: the merge fields (created on first use)
and an index from canonical ID to subscriber hash.

Mailchimp cannot search members by a merge field's value (its member search takes an email or
a name), so the connector reads the audience once with only the fields it needs
(``fields=members.id,members.last_changed,members.merge_fields.<TAG>``, 1,000 a page) and then
only the members changed since, paged by ``last_changed`` as changes are (:mod:`.changes`).
The index is a hint: a hit is confirmed by reading the member.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from connectors.base import Record, SchemaChanged
from connectors.clock import Clock

from .changes import OVERLAP, ChangeCursor
from .records import iso, parse_time

MAX_COUNT = 1000  # members list: "Maximum value is 1000"
MERGE_FIELD_PAGE = 1000

Call = Callable[..., Any]


class MergeFields:
    """The audience's merge fields by tag; a missing one is created as a text field."""

    def __init__(self, call: Call, members_path: str) -> None:
        self.call = call
        self.path = members_path.removesuffix("/members") + "/merge-fields"
        self._types: dict[str, str] | None = None
        self._lock = threading.Lock()

    def types(self) -> dict[str, str]:
        with self._lock:
            if self._types is None:
                body = self.call("GET", self.path, params={"count": MERGE_FIELD_PAGE})
                fields = body.get("merge_fields") if isinstance(body, dict) else None
                if not isinstance(fields, list):
                    raise SchemaChanged(f"mailchimp: GET {self.path}: no 'merge_fields' list")
                self._types = {str(f["tag"]): str(f.get("type")) for f in fields if "tag" in f}
            return dict(self._types)

    def exists(self, tag: str) -> bool:
        return tag in self.types()

    def ensure(self, tag: str) -> None:
        """Create ``tag`` as a hidden text field unless the audience has it."""
        if self.exists(tag):
            return
        body = {"name": tag, "tag": tag, "type": "text", "public": False}
        created = self.call("POST", self.path, json_body=body)
        with self._lock:
            assert self._types is not None
            self._types[str((created or {}).get("tag") or tag)] = "text"


class CanonicalIndex:
    """canonical ID → subscriber hash for one merge tag, and each hash's canonical ID."""

    def __init__(self, call: Call, members_path: str, tag: str, clock: Clock) -> None:
        self.call = call
        self.path = members_path
        self.tag = tag
        self.clock = clock
        self.by_cid: dict[str, str] = {}
        self.by_hash: dict[str, str | None] = {}
        self.cursor = ChangeCursor()
        self.calls = 0
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read the members changed since the last refresh (all of them the first time), by
        ``last_changed`` like the change reader, so none is shifted out of the read."""
        with self._lock:
            fields = f"members.id,members.last_changed,members.merge_fields.{self.tag},total_items"
            # Up to the end of this second: a member written just now is found now.
            self.cursor.open_window(iso(self.clock.now() + OVERLAP))
            while self.cursor.open:
                params = {**self.cursor.params(MAX_COUNT), "fields": fields}
                body = self.call("GET", self.path, params=params)
                self.calls += 1
                members = body.get("members") if isinstance(body, dict) else None
                total = body.get("total_items") if isinstance(body, dict) else None
                if not isinstance(members, list) or not isinstance(total, int):
                    raise SchemaChanged(f"mailchimp: GET {self.path}: no 'members' list")
                stamps = []
                for member in members:
                    value = (member.get("merge_fields") or {}).get(self.tag)
                    self.note(str(value) if value not in (None, "") else None, str(member["id"]))
                    changed = parse_time(member.get("last_changed"))
                    stamps.append(Record("member", str(member["id"]), {}, changed))
                self.cursor.take(stamps, total, full=len(members) >= MAX_COUNT)

    def note(self, canonical_id: str | None, member_hash: str) -> None:
        old = self.by_hash.get(member_hash)
        if old and self.by_cid.get(old) == member_hash:
            del self.by_cid[old]
        self.by_hash[member_hash] = canonical_id
        if canonical_id:
            self.by_cid[canonical_id] = member_hash

    def forget(self, member_hash: str) -> None:
        self.note(None, member_hash)
        del self.by_hash[member_hash]
