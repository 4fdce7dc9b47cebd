"""Reading an audience's changed members without losing one: keyset paging on ``last_changed``.

Mailchimp lists members with ``sort_field=last_changed&sort_dir=ASC`` and filters them with
``since_last_changed`` / ``before_last_changed``. Paging by ``offset`` alone loses members: when
one already read changes in the middle of a sweep, everything after it moves up a place and
the member that moved into the page boundary is never read (it did not change, so no later
sweep reads it either). So the cursor is a key, not a position:

- ``at`` is the newest ``last_changed`` read, ``seen`` the members read at that time (or later,
  on a page read before stepping back; see below) with the time read. Each page asks for
  members changed since one second before ``at`` (whether Mailchimp's ``since`` is inclusive or
  not, every member at ``at`` comes back) and drops those already read: older than ``at``, or
  in ``seen`` at the same time.
- Members sharing one timestamp (a spreadsheet import: thousands in one second) can fill more
  than a page; only then does ``offset`` count places, and only among pages with the same
  ``since``. Those places shift when a member leaves the sweep's window (it changed, so its
  ``last_changed`` is now past ``before``); the response's ``total_items`` shrinks by exactly
  the members that left (none can enter a window that ends in the past), so the next page steps
  back that many places and re-reads them (``seen`` drops the repeats).
- ``before`` fixes the window's end on its first page, so a sweep ends even while the audience
  keeps changing; what changed since is the next sweep's.

Every page's cursor holds all of this, so a sweep stopped by a crash resumes from its last
checkpointed page. It is the kit's :class:`~connectors.paging.Cursor`: the key is its ``since``,
and the rest (``seen``, the window) this reader's own payload in its ``page``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from connectors.base import ConfigError, Record, SchemaChanged
from connectors.paging import Cursor

from .records import iso, parse_time

OVERLAP = timedelta(seconds=1)  # Mailchimp's times are whole seconds


@dataclass
class ChangeCursor:
    at: str | None = None  # newest last_changed read (ISO 8601)
    # Members read at ``at`` or later, by subscriber hash: the last_changed read.
    seen: dict[str, str] = field(default_factory=dict)
    since: str | None = None  # a first sweep's lower bound (before anything was read)
    before: str | None = None  # the open window's end; None between sweeps
    offset: int = 0  # places already read among members since ``at`` - 1 s
    total: int | None = None  # total_items of the last page with the same ``since``

    @property
    def open(self) -> bool:
        return self.before is not None

    @classmethod
    def decode(cls, cursor: str | None) -> ChangeCursor:
        """Read the kit's :class:`~connectors.paging.Cursor`: ``since`` is the key (``at``), or
        a first sweep's lower bound; ``page`` is this reader's own state (what was read at the
        key, and the open window). Cursors of earlier versions still read, never past a gap."""
        if not cursor:
            return cls()
        try:
            raw = json.loads(cursor)
        except ValueError:
            raw = None
        if isinstance(raw, dict) and "at" in raw:
            return cls._keyed(raw)  # the keyset cursor as first written, before the kit's
        kit = Cursor.parse(cursor, "mailchimp")
        state = _payload(kit.page, cursor)
        if state is None:
            # A bare watermark, or an offset-paged cursor of an earlier version: start its
            # window again from its lower bound (a re-read, never a gap).
            return cls(since=kit.since)
        keyed = bool(state.get("keyed"))
        return cls._keyed(
            {**state, "at": kit.since if keyed else None, "since": None if keyed else kit.since}
        )

    @classmethod
    def _keyed(cls, state: dict[str, Any]) -> ChangeCursor:
        try:
            return cls(
                at=state.get("at"),
                seen={str(k): str(v) for k, v in (state.get("seen") or {}).items()},
                since=state.get("since"),
                before=state.get("before"),
                offset=int(state.get("offset") or 0),
                total=state.get("total"),
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise ConfigError(f"mailchimp: unreadable change cursor {state!r:.80}") from exc

    def encode(self) -> str:
        state: dict[str, Any] = {"keyed": self.at is not None, "seen": self.seen}
        if self.open:
            state.update(before=self.before, offset=self.offset, total=self.total)
        page = json.dumps(state, separators=(",", ":"), sort_keys=True)
        return Cursor(since=self.at if self.at is not None else self.since, page=page).dump()

    def open_window(self, now: str) -> None:
        if self.before is None:
            self.before, self.offset, self.total = now, 0, None

    def lower_bound(self) -> str | None:
        newest = parse_time(self.at)
        return iso(newest - OVERLAP) if newest else self.since

    def params(self, count: int) -> dict[str, Any]:
        return {
            "count": count,
            "offset": self.offset,
            "sort_field": "last_changed",
            "sort_dir": "ASC",
            "since_last_changed": self.lower_bound(),
            "before_last_changed": self.before,
        }

    def take(self, records: list[Record], total: int, *, full: bool) -> list[Record]:
        """The page's members not read before; moves the key, the offset and the window."""
        at = parse_time(self.at)
        fresh: list[Record] = []
        for record in records:
            changed = record.updated_at
            if changed is None:
                raise SchemaChanged("mailchimp: a member's 'last_changed' is not a time")
            if at is not None and changed < at:
                continue
            if self.seen.get(record.external_id) == iso(changed):
                continue  # read already, and not changed since
            fresh.append(record)
            self.seen[record.external_id] = iso(changed)
        left = self.total - total if self.total is not None and self.total > total else 0
        newest = max((r.updated_at for r in fresh if r.updated_at), default=None)
        if left and self.offset:
            # Members read on earlier pages left the window, so unread ones may have moved into
            # the places this page skipped: step back over them, keeping the key.
            self.offset, self.total = max(0, self.offset - left), total
            return fresh
        if newest is not None and (at is None or newest > at):
            # The key moves on: the next page starts from it, at offset 0.
            self.at = iso(newest)
            self.offset, self.total = 0, None
            self.seen = {k: v for k, v in self.seen.items() if parse_time(v) == newest}
        else:
            # Same ``since``: count places.
            self.offset, self.total = self.offset + len(records), total
        if not full:
            self.before, self.offset, self.total = None, 0, None
        return fresh


def _payload(page: str | None, cursor: str) -> dict[str, Any] | None:
    """This reader's state in the cursor's ``page`` (None: a cursor without it)."""
    if not page or not page.startswith("{"):
        return None
    try:
        state = json.loads(page)
    except ValueError as exc:
        raise ConfigError(f"mailchimp: unreadable change cursor {cursor[:80]!r}") from exc
    if not isinstance(state, dict):
        raise ConfigError(f"mailchimp: unreadable change cursor {cursor[:80]!r}")
    return state
