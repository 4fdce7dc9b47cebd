"""What planning reads and writes of the identity index and the event log, two ways.

:class:`StoreLookups` asks the store for each record as it comes (one record at a time, each
insert checked against a concurrent one and flushed at once). :class:`PageLookups` loads what
a whole page needs in a few IN-queries up front, answers from memory (kept current as the page
adds rows), and leaves every insert to one flush at the end of the page. A page planned that
way either succeeds as a whole or raises, and the caller plans it again record by record
(see :meth:`sync_core.planner.Planner.plan_page`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Protocol

from sync_core.ports import UnitOfWork
from sync_core.store.models import (
    OPEN_STATUSES,
    UNPLANNED_KINDS,
    EntityRow,
    EventRow,
    EventStatus,
    LinkRow,
    ShadowWriteRow,
)

_OPEN = {s.value for s in OPEN_STATUSES}


class Lookups(Protocol):
    @property
    def uow(self) -> UnitOfWork: ...
    @property
    def batched(self) -> bool:
        """Whether failures must propagate (a page planned as a whole) instead of being
        quarantined record by record."""
        ...

    def entity(self, canonical_id: str) -> EntityRow | None: ...
    def link_of_record(self, system: str, record_type: str, external_id: str) -> LinkRow | None:
        """The link of one record (which canonical ID it carries)."""
        ...

    def link_in(self, canonical_id: str, system: str, record_type: str) -> LinkRow | None:
        """A customer's record in ``system.record_type``."""
        ...

    def latest_for(self, flow: str, canonical_id: str) -> EventRow | None: ...
    def open_for(self, flow: str, canonical_id: str) -> Sequence[EventRow]: ...
    def unplanned_for(self, flow: str, canonical_id: str) -> Sequence[EventRow]: ...
    def add_entity(self, row: EntityRow) -> None: ...
    def add_link(self, row: LinkRow) -> None: ...
    def add_event(self, row: EventRow) -> None: ...
    def add_shadow(self, event: EventRow, row: ShadowWriteRow) -> None:
        """Keep the shadow write of ``event`` (its ``event_id`` is set once the event has one)."""
        ...

    def claimed(self, canonical_id: str, system: str, record_type: str, external_id: str) -> None:
        """A short code was just claimed in the store for this minting record (its customer
        row and link written there directly): answers about them come from the store now."""
        ...


class StoreLookups:
    """Each question asked of the store when it comes; each insert checked and flushed."""

    batched = False

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def entity(self, canonical_id: str) -> EntityRow | None:
        return self.uow.entities.get(canonical_id)

    def link_of_record(self, system: str, record_type: str, external_id: str) -> LinkRow | None:
        return self.uow.links.by_record(system, record_type, external_id)

    def link_in(self, canonical_id: str, system: str, record_type: str) -> LinkRow | None:
        return self.uow.links.find(canonical_id, system, record_type)

    def latest_for(self, flow: str, canonical_id: str) -> EventRow | None:
        return self.uow.events.latest_for(flow, canonical_id)

    def open_for(self, flow: str, canonical_id: str) -> Sequence[EventRow]:
        return self.uow.events.open_for(flow, canonical_id)

    def unplanned_for(self, flow: str, canonical_id: str) -> Sequence[EventRow]:
        return self.uow.events.unplanned_for(flow, canonical_id)

    def add_entity(self, row: EntityRow) -> None:
        self.uow.entities.add(row)

    def add_link(self, row: LinkRow) -> None:
        self.uow.links.add(row)

    def add_event(self, row: EventRow) -> None:
        self.uow.events.add(row)
        self.uow.flush()

    def add_shadow(self, event: EventRow, row: ShadowWriteRow) -> None:
        row.event_id = event.id
        self.uow.shadow_writes.add(row)

    def claimed(self, canonical_id: str, system: str, record_type: str, external_id: str) -> None:
        pass  # every answer comes from the store already


class PageLookups:
    """A page's lookups loaded together; a question outside what was loaded is asked of the
    store and remembered. New rows go to the unit of work unchecked (a concurrent insert of
    the same key fails the page's flush) and are remembered so later records see them."""

    batched = True

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self._entities: dict[str, EntityRow | None] = {}
        self._by_record: dict[tuple[str, str, str], LinkRow | None] = {}
        self._in_system: dict[tuple[str, str, str], LinkRow | None] = {}
        # (flow, canonical ID) -> its newest, open and unplanned events, oldest first
        self._events: dict[tuple[str, str], list[EventRow]] = {}
        self._shadows: list[tuple[EventRow, ShadowWriteRow]] = []

    # ---- loading ----------------------------------------------------------------------

    def load_records(self, system: str, record_type: str, external_ids: Collection[str]) -> None:
        wanted = {e for e in external_ids if (system, record_type, e) not in self._by_record}
        for external_id in wanted:
            self._by_record[(system, record_type, external_id)] = None
        for link in self.uow.links.by_records(system, record_type, wanted):
            self._by_record[(system, record_type, link.external_id)] = link  # one per record

    def load_entities(self, canonical_ids: Collection[str]) -> None:
        wanted = {c for c in canonical_ids if c not in self._entities}
        for canonical_id in wanted:
            self._entities[canonical_id] = None
        for row in self.uow.entities.get_many(wanted):
            self._entities[row.canonical_id] = row

    def load_links_in(self, canonical_ids: Collection[str], system: str, record_type: str) -> None:
        wanted = {c for c in canonical_ids if (c, system, record_type) not in self._in_system}
        for canonical_id in wanted:
            self._in_system[(canonical_id, system, record_type)] = None
        for link in self.uow.links.in_system(wanted, system, record_type):
            if self._in_system[(link.canonical_id, system, record_type)] is None:
                self._in_system[(link.canonical_id, system, record_type)] = link

    def load_events(self, flows: Collection[str], canonical_ids: Collection[str]) -> None:
        keys = {(f, c) for f in flows for c in canonical_ids if (f, c) not in self._events}
        for key in keys:
            self._events[key] = []
        for row in self.uow.events.planning_state({f for f, _ in keys}, {c for _, c in keys}):
            if (row.flow, row.canonical_id) in keys:
                self._events[(row.flow, row.canonical_id)].append(row)

    # ---- answers ----------------------------------------------------------------------

    def entity(self, canonical_id: str) -> EntityRow | None:
        if canonical_id not in self._entities:
            self._entities[canonical_id] = self.uow.entities.get(canonical_id)
        return self._entities[canonical_id]

    def link_of_record(self, system: str, record_type: str, external_id: str) -> LinkRow | None:
        key = (system, record_type, external_id)
        if key not in self._by_record:
            self._by_record[key] = self.uow.links.by_record(system, record_type, external_id)
        return self._by_record[key]

    def link_in(self, canonical_id: str, system: str, record_type: str) -> LinkRow | None:
        key = (canonical_id, system, record_type)
        if key not in self._in_system:
            self._in_system[key] = self.uow.links.find(canonical_id, system, record_type)
        return self._in_system[key]

    def _known(self, flow: str, canonical_id: str) -> list[EventRow]:
        key = (flow, canonical_id)
        if key not in self._events:
            rows = {id(r): r for r in self._from_store(flow, canonical_id)}
            self._events[key] = sorted(rows.values(), key=lambda r: r.id)
        return self._events[key]

    def _from_store(self, flow: str, canonical_id: str) -> Iterable[EventRow]:
        latest = self.uow.events.latest_for(flow, canonical_id)
        yield from [latest] if latest is not None else []
        yield from self.uow.events.open_for(flow, canonical_id)
        yield from self.uow.events.unplanned_for(flow, canonical_id)

    def latest_for(self, flow: str, canonical_id: str) -> EventRow | None:
        known = self._known(flow, canonical_id)
        return known[-1] if known else None

    def open_for(self, flow: str, canonical_id: str) -> Sequence[EventRow]:
        return [r for r in self._known(flow, canonical_id) if r.status in _OPEN]

    def unplanned_for(self, flow: str, canonical_id: str) -> Sequence[EventRow]:
        return [
            r
            for r in self._known(flow, canonical_id)
            if r.status == EventStatus.DEAD.value and r.last_error_kind in UNPLANNED_KINDS
        ]

    # ---- writes -----------------------------------------------------------------------

    def add_entity(self, row: EntityRow) -> None:
        self.uow.entities.add_new(row)
        self._entities[row.canonical_id] = row

    def add_link(self, row: LinkRow) -> None:
        self.uow.links.add_new(row)
        self._by_record[(row.system, row.record_type, row.external_id)] = row
        key = (row.canonical_id, row.system, row.record_type)
        if self._in_system.get(key) is None:
            self._in_system[key] = row

    def add_event(self, row: EventRow) -> None:
        self._known(row.flow, row.canonical_id).append(row)
        self.uow.events.add(row)

    def add_shadow(self, event: EventRow, row: ShadowWriteRow) -> None:
        self._shadows.append((event, row))

    def claimed(self, canonical_id: str, system: str, record_type: str, external_id: str) -> None:
        # Loaded before the claim as "none": a second customer row or link would be added
        # and the page's flush would fail on it.
        self._entities.pop(canonical_id, None)
        self._by_record.pop((system, record_type, external_id), None)
        self._in_system.pop((canonical_id, system, record_type), None)

    def finish(self) -> None:
        """Write the page: one flush gives the new events their ids, then their shadow writes
        follow (written with the commit)."""
        self.uow.flush()
        for event, row in self._shadows:
            row.event_id = event.id
            self.uow.shadow_writes.add(row)
        self._shadows.clear()
