"""What the engine needs from storage, as protocols. ``sync_core.store`` implements them on
SQLAlchemy; tests implement them in memory (a fake unit of work).

Rows are the store's model classes used as plain objects: a fake keeps them in dicts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, Self

from sync_core.store.models import (
    ActionRow,
    AlertOutboxRow,
    AlertRow,
    AttemptRow,
    EntityRow,
    EventRow,
    FlowStateRow,
    KeptRecord,
    LinkRow,
    MatchDecisionRow,
    MatchProposalRow,
    MatchRecordRow,
    PhaseChangeRow,
    PhaseRow,
    ShadowWriteRow,
)


class EntityRepository(Protocol):
    def get(self, canonical_id: str) -> EntityRow | None: ...
    def get_many(self, canonical_ids: Collection[str]) -> Sequence[EntityRow]:
        """The entities of ``canonical_ids`` that exist, in one query."""
        ...

    def add(self, row: EntityRow) -> None: ...
    def add_new(self, row: EntityRow) -> None:
        """Insert ``row`` with the next flush, unchecked: if another process inserted the
        same canonical ID first, that flush fails (the caller redoes its work row by row)."""
        ...

    def claim(self, row: EntityRow) -> bool:
        """Insert ``row``; ``False`` when its canonical ID is taken (by a committed row or
        one another process is committing), this transaction going on."""
        ...

    def search(self, query: str, limit: int) -> Sequence[EntityRow]:
        """Case-insensitive partial match on canonical ID or display name: the first
        ``limit`` found (in no particular order when more match), by name."""
        ...

    def count_matches(self, query: str, cap: int | None = None) -> int:
        """How many entities :meth:`search` would find without its limit (at most ``cap``:
        counting stops there)."""
        ...

    def named_like(self, text: str, limit: int) -> Sequence[EntityRow]:
        """Entities whose name contains ``text`` (case-insensitive), by name: one query."""
        ...

    def named_with(
        self, groups: Sequence[Sequence[str]], limit: int, by_name: bool = True
    ) -> Sequence[EntityRow]:
        """Entities whose name contains, for every group, one of the group's texts
        (case-insensitive): by name, or in no particular order (cheaper when many match);
        one query."""
        ...


class LinkRepository(Protocol):
    def by_record(self, system: str, record_type: str, external_id: str) -> LinkRow | None: ...
    def for_entity(self, canonical_id: str) -> Sequence[LinkRow]: ...
    def for_entities(self, canonical_ids: Sequence[str]) -> Sequence[LinkRow]:
        """The links of every entity named, in one query (oldest first)."""
        ...

    def find(self, canonical_id: str, system: str, record_type: str) -> LinkRow | None: ...
    def by_records(
        self, system: str, record_type: str, external_ids: Collection[str]
    ) -> Sequence[LinkRow]:
        """The links of these records of ``system.record_type``, in one query."""
        ...

    def in_system(
        self, canonical_ids: Collection[str], system: str, record_type: str
    ) -> Sequence[LinkRow]:
        """The links of ``canonical_ids`` in ``system.record_type``, in one query."""
        ...

    def add(self, row: LinkRow) -> None: ...
    def remove(self, row: LinkRow) -> None: ...
    def add_new(self, row: LinkRow) -> None:
        """Insert ``row`` with the next flush, unchecked (see :meth:`EntityRepository.add_new`)."""
        ...


class CursorRepository(Protocol):
    def lock(self, system: str, record_type: str) -> None: ...
    def get(self, system: str, record_type: str) -> str | None: ...
    def put(self, system: str, record_type: str, cursor: str | None, now: datetime) -> None: ...


class EventRepository(Protocol):
    def add(self, row: EventRow) -> None: ...
    def get(self, event_id: int) -> EventRow | None: ...
    def latest_for(self, flow: str, canonical_id: str) -> EventRow | None:
        """The newest event of ``flow`` for ``canonical_id`` (any status)."""
        ...

    def open_for(self, flow: str, canonical_id: str) -> Sequence[EventRow]:
        """Events of ``flow`` for ``canonical_id`` still waiting for delivery."""
        ...

    def unplanned_for(self, flow: str, canonical_id: str) -> Sequence[EventRow]:
        """Dead events of ``flow`` for ``canonical_id`` that planning could not finish."""
        ...

    def planning_state(
        self, flows: Collection[str], canonical_ids: Collection[str]
    ) -> Sequence[EventRow]:
        """In one query, for every pair of ``flows`` and ``canonical_ids``: its newest event,
        its open events and its unplanned ones (what :meth:`latest_for`, :meth:`open_for` and
        :meth:`unplanned_for` answer), oldest first."""
        ...

    def get_many(self, event_ids: Collection[int]) -> Sequence[EventRow]:
        """The events of ``event_ids`` that exist, in one query."""
        ...

    def claim_due(
        self, now: datetime, lease_until: datetime, owner: str, limit: int
    ) -> Sequence[EventRow]:
        """Take up to ``limit`` due events (pending/retrying, next attempt reached, no live
        lease) and lease them to ``owner`` until ``lease_until``. Safe across processes, and
        one write per target record at a time: an event is not taken while another event
        writing the same record holds a live lease, nor beside one in the same claim."""
        ...

    def renew_leases(
        self, ids: Sequence[int], owner: str, held_until: datetime, lease_until: datetime
    ) -> int:
        """Move the lease of ``ids`` that ``owner`` still holds until ``held_until`` on to
        ``lease_until``; how many it still held."""
        ...

    def release_leases(
        self,
        owner: str,
        ids: Sequence[int] | None = None,
        held_until: datetime | None = None,
    ) -> int:
        """Clear the leases ``owner`` holds (only of ``ids`` and only ``held_until``, when
        given), so any worker may claim those events at once; how many were released."""
        ...

    def held_elsewhere(self, now: datetime, owner: str) -> tuple[int, datetime | None]:
        """Open events under a live lease of a worker other than ``owner``: how many, and
        when the last of those leases ends."""
        ...

    def dead(self, limit: int = 1000) -> Sequence[EventRow]: ...
    def history(
        self,
        *,
        canonical_ids: Sequence[str] | None = None,
        system: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        flows: Sequence[str] | None = None,
        before_id: int | None = None,
        limit: int = 50,
        targets: bool = False,
    ) -> Sequence[EventRow]:
        """Events newest first, filtered; ``targets`` also matches the target's canonical ID."""
        ...

    def latest_per_flow(self, canonical_id: str) -> Sequence[EventRow]: ...
    def latest_per_flow_of(
        self, canonical_ids: Sequence[str], *, as_target: bool = False
    ) -> Sequence[EventRow]:
        """The newest event per (entity, flow) for every entity named, in one query; with
        ``as_target``, per (target entity, flow) instead."""
        ...

    def count_by_status(
        self, flows: Sequence[str] | None = None, since: datetime | None = None
    ) -> dict[str, int]: ...


class AttemptRepository(Protocol):
    def add(self, row: AttemptRow) -> None: ...
    def for_event(self, event_id: int) -> Sequence[AttemptRow]: ...


class PhaseRepository(Protocol):
    def get(self, phase_id: int) -> PhaseRow | None: ...
    def all(self) -> Sequence[PhaseRow]: ...
    def add(self, row: PhaseRow) -> bool:
        """Insert ``row``; ``False`` when another process inserted the phase first (its row
        stands, this transaction goes on)."""
        ...

    def hold_start(self, phase_id: int) -> None:
        """Keep other processes out of the phase's first start until this transaction ends
        (one at a time decides how it starts and says so)."""
        ...

    def add_change(self, row: PhaseChangeRow) -> None: ...
    def changes(self, phase_id: int) -> Sequence[PhaseChangeRow]: ...


class AlertRepository(Protocol):
    def add(self, row: AlertRow) -> None: ...
    def get(self, alert_id: int) -> AlertRow | None: ...
    def open_group(self, group_key: str) -> AlertRow | None: ...
    def open_alerts(self) -> Sequence[AlertRow]: ...
    def attach(self, alert_id: int, event_id: int) -> None: ...
    def event_ids(self, alert_id: int) -> Sequence[int]: ...
    def for_event(self, event_id: int) -> AlertRow | None: ...


class AlertOutboxRepository(Protocol):
    def add(self, row: AlertOutboxRow) -> None: ...
    def waiting(self, alert_id: int, now: datetime) -> Sequence[AlertOutboxRow]: ...
    def unsent_alert_ids(self) -> set[int]: ...
    def claim(
        self, now: datetime, lease_until: datetime, owner: str, alerts: int
    ) -> Sequence[AlertOutboxRow]: ...
    def by_ids(self, ids: Sequence[int]) -> Sequence[AlertOutboxRow]: ...


class ShadowRepository(Protocol):
    def add(self, row: ShadowWriteRow) -> None: ...
    def for_flows(self, flows: Sequence[str], limit: int = 1000) -> Sequence[ShadowWriteRow]: ...
    def outcomes(self, flows: Sequence[str]) -> dict[str, int]:
        """How the compared shadow writes of ``flows`` came out (match, differs, missing...)."""
        ...


class FlowStateRepository(Protocol):
    def get(self, flow: str) -> FlowStateRow | None: ...
    def put(self, row: FlowStateRow) -> None: ...
    def all(self) -> Sequence[FlowStateRow]: ...


class ActionRepository(Protocol):
    def add(self, row: ActionRow) -> None: ...
    def recent(self, subject: str | None = None, limit: int = 50) -> Sequence[ActionRow]: ...


class MatchRepository(Protocol):
    def add(self, row: MatchProposalRow) -> None: ...
    def get(self, proposal_id: int) -> MatchProposalRow | None: ...
    def for_entity(
        self, entity: str, statuses: Sequence[str] | None = None
    ) -> Sequence[MatchProposalRow]: ...
    def for_record(
        self, system: str, record_type: str, external_id: str
    ) -> Sequence[MatchProposalRow]: ...
    def pending_in(self, refs: Sequence[tuple[str, str]]) -> Sequence[MatchProposalRow]:
        """Open or accepted (not yet applied) proposals of records in these record types."""
        ...

    def proposals_for(
        self, entity: str, pairs: Collection[tuple[str, str, str, str]]
    ) -> dict[tuple[str, str, str, str], MatchProposalRow]:
        """The proposals of these (canonical ID, system, record type, external ID) pairs that
        exist, in one select a chunk."""
        ...

    def unsettled(
        self, entity: str, refs: Collection[tuple[str, str]], actor: str
    ) -> list[tuple[int, str]]:
        """(id, status) of the proposals of records in these record types that are open, or
        accepted by ``actor`` and not applied yet: those a run that no longer finds them
        marks stale. Only their ids: a run never holds every proposal."""
        ...

    def refused_records(self, entity: str, system: str, record_type: str) -> set[str]:
        """The external IDs of the records of ``system.record_type`` whose open proposal apply
        refused (the record carried another canonical ID)."""
        ...

    def mark_stale(self, proposal_ids: Collection[int], now: datetime) -> None:
        """Mark these proposals stale, in one update a chunk."""
        ...

    def settle(self, proposal_id: int, expected: str, status: str) -> bool:
        """Move the proposal from ``expected`` to ``status`` only if it still is ``expected``
        (a conditional update): of two processes settling it at once exactly one gets True;
        the other waits for the winner's transaction and finds it settled."""
        ...

    def add_decision(self, row: MatchDecisionRow) -> None: ...
    def decisions(self, proposal_id: int) -> Sequence[MatchDecisionRow]: ...
    def refusals(self, proposal_ids: Collection[int]) -> dict[int, str]:
        """Proposal id -> the reason of its latest refusal at apply (its record carried
        another canonical ID), for those of these proposals ever refused."""
        ...

    def put_record(self, row: MatchRecordRow) -> None:
        """Insert or replace the record read for matching."""
        ...

    def put_records(self, rows: Sequence[MatchRecordRow]) -> None:
        """Insert or replace the records read for matching (a page of them), in a number of
        statements that does not grow with the page (one per 500 rows)."""
        ...

    def record(
        self, entity: str, system: str, record_type: str, external_id: str
    ) -> MatchRecordRow | None: ...

    def records(
        self, entity: str, refs: Collection[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], MatchRecordRow]:
        """The kept records of these ``(system, record_type, external_id)``, in one select
        (per 500); one not kept is absent."""
        ...

    def last_read(self, entity: str, system: str, record_type: str) -> datetime | None:
        """When the latest record of ``system.record_type`` kept for matching was read."""
        ...

    def count_read(
        self, entity: str, system: str, record_type: str, since: datetime
    ) -> tuple[int, int]:
        """How many records of ``system.record_type`` reads at or after ``since`` kept, and
        how many of them are free to match (linked to no customer)."""
        ...

    def records_read(
        self, entity: str, system: str, record_type: str, since: datetime
    ) -> Iterable[MatchRecordRow]:
        """The records of ``system.record_type`` kept by reads at or after ``since``, streamed
        (iterate them while the unit of work is open)."""
        ...

    def put_blocks(
        self,
        entity: str,
        read_at: datetime,
        keys: Mapping[tuple[str, str, str], Collection[str]],
    ) -> None:
        """Replace the block keys of these records (``(system, record_type, external_id)`` ->
        keys), kept at ``read_at``; a key is at most 300 characters."""
        ...

    def pairs_sharing_blocks(
        self,
        entity: str,
        left: tuple[str, str, datetime],
        right: tuple[str, str, datetime],
        max_pairs: int,
    ) -> Iterator[tuple[str, str]]:
        """Each distinct ``(left external_id, right external_id)`` sharing a block key that
        both sides (``(system, record_type, kept at or after)``) hold and that pairs at most
        ``max_pairs`` records, in no order; right records linked already left out. Streamed:
        consume it while the unit of work is open."""
        ...

    def records_of(
        self, entity: str, system: str, record_type: str, external_ids: Collection[str]
    ) -> list[KeptRecord]:
        """The kept records of these external IDs of one record type (one select per 500),
        not held by the unit of work; one not kept is absent."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Services call :meth:`commit`; leaving the block without it rolls back."""

    @property
    def entities(self) -> EntityRepository: ...
    @property
    def links(self) -> LinkRepository: ...
    @property
    def cursors(self) -> CursorRepository: ...
    @property
    def events(self) -> EventRepository: ...
    @property
    def attempts(self) -> AttemptRepository: ...
    @property
    def phases(self) -> PhaseRepository: ...
    @property
    def alerts(self) -> AlertRepository: ...
    @property
    def alert_outbox(self) -> AlertOutboxRepository: ...
    @property
    def shadow_writes(self) -> ShadowRepository: ...
    @property
    def flow_states(self) -> FlowStateRepository: ...
    @property
    def actions(self) -> ActionRepository: ...
    @property
    def matches(self) -> MatchRepository: ...

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def flush(self) -> None:
        """Give new rows their ids without committing."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: an exception inside undoes only what was done inside."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
