"""An in-memory unit of work for unit tests: the repositories of sync_core.ports over dicts.

It keeps committed state apart from the working copy, so a test can check that a service
that forgot to commit changed nothing.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Self

from sync_core.store.models import (
    OPEN_STATUSES,
    REFUSED,
    UNPLANNED_KINDS,
    ActionRow,
    AlertOutboxRow,
    AlertRow,
    AttemptRow,
    EntityRow,
    EventRow,
    EventStatus,
    FlowStateRow,
    KeptRecord,
    LinkRow,
    MatchDecisionRow,
    MatchProposalRow,
    MatchRecordRow,
    MatchStatus,
    PhaseChangeRow,
    PhaseRow,
    ShadowWriteRow,
)


class FakeData:
    """The 'database': lists of rows and id sequences."""

    def __init__(self) -> None:
        self.tables: dict[str, list[Any]] = {}
        self.cursors: dict[tuple[str, str], str | None] = {}
        self.alert_events: set[tuple[int, int]] = set()
        self.ids = itertools.count(1)

    def rows(self, table: str) -> list[Any]:
        return self.tables.setdefault(table, [])


class _Repo:
    table = ""

    def __init__(self, data: FakeData) -> None:
        self.data = data

    @property
    def rows(self) -> list[Any]:
        return self.data.rows(self.table)

    def add(self, row: Any) -> None:
        if (
            hasattr(row, "id")
            and getattr(row, "id", None) is None
            and self.table not in ("phases",)
        ):
            row.id = next(self.data.ids)
        if row not in self.rows:
            self.rows.append(row)


class FakeEntities(_Repo):
    table = "entities"

    def get(self, canonical_id: str) -> EntityRow | None:
        return next((r for r in self.rows if r.canonical_id == canonical_id), None)

    def get_many(self, canonical_ids: Collection[str]) -> Sequence[EntityRow]:
        wanted = set(canonical_ids)
        return [r for r in self.rows if r.canonical_id in wanted]

    def add(self, row: EntityRow) -> None:
        self.rows.append(row)

    def add_new(self, row: EntityRow) -> None:
        if self.get(row.canonical_id) is not None:
            raise ValueError(f"entity {row.canonical_id} exists")  # the database's conflict
        self.rows.append(row)

    def claim(self, row: EntityRow) -> bool:
        if self.get(row.canonical_id) is not None:
            return False
        self.rows.append(row)
        return True

    def search(self, query: str, limit: int) -> Sequence[EntityRow]:
        key = " ".join(query.lower().split())
        exact = [r for r in self.rows if r.canonical_id.lower() == key]
        if exact:
            return exact
        linked = {
            link.canonical_id
            for link in self.data.rows("links")
            if link.external_id == query.strip()
        }
        if linked:
            return [r for r in self.rows if r.canonical_id in linked][:limit]
        found = self.named_with([[query]], limit, by_name=False)
        return sorted(found, key=lambda r: (r.display_name, r.canonical_id))

    def named_like(self, text: str, limit: int) -> Sequence[EntityRow]:
        return self.named_with([[text]], limit)

    def named_with(
        self, groups: Sequence[Sequence[str]], limit: int, by_name: bool = True
    ) -> Sequence[EntityRow]:
        keys = [[k for k in (" ".join(t.lower().split()) for t in g) if k] for g in groups]
        if not keys or not all(keys):
            return []
        found = [r for r in self.rows if all(any(k in r.search_name for k in g) for g in keys)]
        if by_name:
            found = sorted(found, key=lambda r: r.display_name)
        return found[:limit]

    def count_matches(self, query: str, cap: int | None = None) -> int:
        found = len(self.search(query, len(self.rows)))
        return found if cap is None else min(found, cap)


class FakeLinks(_Repo):
    table = "links"

    def by_record(self, system: str, record_type: str, external_id: str) -> LinkRow | None:
        return next(
            (
                r
                for r in self.rows
                if (r.system, r.record_type, r.external_id) == (system, record_type, external_id)
            ),
            None,
        )

    def for_entity(self, canonical_id: str) -> Sequence[LinkRow]:
        return [r for r in self.rows if r.canonical_id == canonical_id]

    def for_entities(self, canonical_ids: Sequence[str]) -> Sequence[LinkRow]:
        return [r for r in self.rows if r.canonical_id in canonical_ids]

    def find(self, canonical_id: str, system: str, record_type: str) -> LinkRow | None:
        return next(
            (
                r
                for r in self.rows
                if (r.canonical_id, r.system, r.record_type) == (canonical_id, system, record_type)
            ),
            None,
        )

    def remove(self, row: LinkRow) -> None:
        self.rows.remove(row)

    def by_records(
        self, system: str, record_type: str, external_ids: Collection[str]
    ) -> Sequence[LinkRow]:
        wanted = set(external_ids)
        return [
            r
            for r in self.rows
            if (r.system, r.record_type) == (system, record_type) and r.external_id in wanted
        ]

    def in_system(
        self, canonical_ids: Collection[str], system: str, record_type: str
    ) -> Sequence[LinkRow]:
        wanted = set(canonical_ids)
        return [
            r
            for r in self.rows
            if (r.system, r.record_type) == (system, record_type) and r.canonical_id in wanted
        ]

    def add_new(self, row: LinkRow) -> None:
        if self.by_record(row.system, row.record_type, row.external_id) is not None:
            raise ValueError(f"link {row.external_id} exists")  # the database's conflict
        self.add(row)


class FakeCursors:
    def __init__(self, data: FakeData) -> None:
        self.data = data

    def lock(self, system: str, record_type: str) -> None:
        pass  # one process: nothing to wait for

    def get(self, system: str, record_type: str) -> str | None:
        return self.data.cursors.get((system, record_type))

    def put(self, system: str, record_type: str, cursor: str | None, now: datetime) -> None:
        self.data.cursors[(system, record_type)] = cursor


class FakeEvents(_Repo):
    table = "events"

    def get(self, event_id: int) -> EventRow | None:
        return next((r for r in self.rows if r.id == event_id), None)

    def latest_for(self, flow: str, canonical_id: str) -> EventRow | None:
        rows = [r for r in self.rows if r.flow == flow and r.canonical_id == canonical_id]
        return max(rows, key=lambda r: r.id) if rows else None

    def open_for(self, flow: str, canonical_id: str) -> Sequence[EventRow]:
        return [
            r
            for r in self.rows
            if r.flow == flow and r.canonical_id == canonical_id and r.status in OPEN_STATUSES
        ]

    def unplanned_for(self, flow: str, canonical_id: str) -> Sequence[EventRow]:
        return [
            r
            for r in self.rows
            if r.flow == flow
            and r.canonical_id == canonical_id
            and r.status == EventStatus.DEAD.value
            and r.last_error_kind in UNPLANNED_KINDS
        ]

    def planning_state(
        self, flows: Collection[str], canonical_ids: Collection[str]
    ) -> Sequence[EventRow]:
        found: dict[int, EventRow] = {}
        for flow in flows:
            for canonical_id in canonical_ids:
                latest = self.latest_for(flow, canonical_id)
                rows = [
                    *([latest] if latest else []),
                    *self.open_for(flow, canonical_id),
                    *self.unplanned_for(flow, canonical_id),
                ]
                found.update((r.id, r) for r in rows)
        return [found[key] for key in sorted(found)]

    def get_many(self, event_ids: Collection[int]) -> Sequence[EventRow]:
        wanted = set(event_ids)
        return sorted((r for r in self.rows if r.id in wanted), key=lambda r: r.id)

    def claim_due(
        self, now: datetime, lease_until: datetime, owner: str, limit: int
    ) -> Sequence[EventRow]:
        due = sorted(
            (
                r
                for r in self.rows
                if r.status in OPEN_STATUSES
                and r.next_attempt_at is not None
                and r.next_attempt_at <= now
                and (r.lease_until is None or r.lease_until < now)
            ),
            key=lambda r: (r.next_attempt_at, r.id),
        )[:limit]
        for row in due:
            row.lease_until = lease_until
            row.lease_owner = owner
        return due

    def renew_leases(
        self, ids: Sequence[int], owner: str, held_until: datetime, lease_until: datetime
    ) -> int:
        held = [
            r
            for r in self.rows
            if r.id in ids and r.lease_owner == owner and r.lease_until == held_until
        ]
        for row in held:
            row.lease_until = lease_until
        return len(held)

    def release_leases(
        self,
        owner: str,
        ids: Sequence[int] | None = None,
        held_until: datetime | None = None,
    ) -> int:
        held = [
            r
            for r in self.rows
            if r.lease_owner == owner
            and (ids is None or r.id in ids)
            and (held_until is None or r.lease_until == held_until)
        ]
        for row in held:
            row.lease_until = None
            row.lease_owner = None
        return len(held)

    def held_elsewhere(self, now: datetime, owner: str) -> tuple[int, datetime | None]:
        held = [
            r.lease_until
            for r in self.rows
            if r.status in OPEN_STATUSES
            and r.lease_until is not None
            and r.lease_until >= now
            and r.lease_owner != owner
        ]
        return len(held), max(held, default=None)

    def dead(self, limit: int = 1000) -> Sequence[EventRow]:
        return [r for r in self.rows if r.status == EventStatus.DEAD.value][:limit]

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
        def keep(r: EventRow) -> bool:
            if (
                canonical_ids is not None
                and r.canonical_id not in canonical_ids
                and not (targets and r.target_canonical_id in canonical_ids)
            ):
                return False
            if system and system not in (r.source_system, r.target_system):
                return False
            if status and r.status != status:
                return False
            if since is not None and r.updated_at < since:
                return False
            if flows is not None and r.flow not in flows:
                return False
            return before_id is None or r.id < before_id

        return sorted(filter(keep, self.rows), key=lambda r: -r.id)[:limit]

    def latest_per_flow(self, canonical_id: str) -> Sequence[EventRow]:
        latest: dict[str, EventRow] = {}
        for row in self.rows:
            if row.canonical_id == canonical_id and (
                row.flow not in latest or row.id > latest[row.flow].id
            ):
                latest[row.flow] = row
        return sorted(latest.values(), key=lambda r: r.flow)

    def latest_per_flow_of(
        self, canonical_ids: Sequence[str], *, as_target: bool = False
    ) -> Sequence[EventRow]:
        latest: dict[tuple[str, str], EventRow] = {}
        for row in self.rows:
            entity = row.target_canonical_id if as_target else row.canonical_id
            key = (entity, row.flow)
            if entity in canonical_ids and (key not in latest or row.id > latest[key].id):
                latest[key] = row
        return sorted(latest.values(), key=lambda r: r.flow)

    def count_by_status(
        self, flows: Sequence[str] | None = None, since: datetime | None = None
    ) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            if flows is not None and row.flow not in flows:
                continue
            if since is not None and row.updated_at < since:
                continue
            counts[row.status] = counts.get(row.status, 0) + 1
        return counts


class FakeAttempts(_Repo):
    table = "attempts"

    def for_event(self, event_id: int) -> Sequence[AttemptRow]:
        return [r for r in self.rows if r.event_id == event_id]


class FakePhases(_Repo):
    table = "phases"

    def get(self, phase_id: int) -> PhaseRow | None:
        return next((r for r in self.rows if r.id == phase_id), None)

    def all(self) -> Sequence[PhaseRow]:
        return sorted(self.rows, key=lambda r: r.id)

    def add(self, row: PhaseRow) -> bool:
        if self.get(row.id) is not None:
            return False
        self.rows.append(row)
        return True

    def hold_start(self, phase_id: int) -> None:
        pass  # one unit of work at a time in memory

    def add_change(self, row: PhaseChangeRow) -> None:
        row.id = next(self.data.ids)
        self.data.rows("phase_changes").append(row)

    def changes(self, phase_id: int) -> Sequence[PhaseChangeRow]:
        return [r for r in self.data.rows("phase_changes") if r.phase_id == phase_id]


class FakeAlerts(_Repo):
    table = "alerts"

    def get(self, alert_id: int) -> AlertRow | None:
        return next((r for r in self.rows if r.id == alert_id), None)

    def open_group(self, group_key: str) -> AlertRow | None:
        found = [
            r for r in self.rows if r.group_key == group_key and r.state in ("open", "acknowledged")
        ]
        return max(found, key=lambda r: r.id) if found else None

    def open_alerts(self) -> Sequence[AlertRow]:
        return [r for r in self.rows if r.state in ("open", "acknowledged")]

    def attach(self, alert_id: int, event_id: int) -> None:
        self.data.alert_events.add((alert_id, event_id))

    def event_ids(self, alert_id: int) -> Sequence[int]:
        return sorted(e for a, e in self.data.alert_events if a == alert_id)

    def for_event(self, event_id: int) -> AlertRow | None:
        ids = [a for a, e in self.data.alert_events if e == event_id]
        return self.get(max(ids)) if ids else None


class FakeAlertOutbox(_Repo):
    table = "alert_outbox"

    def waiting(self, alert_id: int, now: datetime) -> Sequence[AlertOutboxRow]:
        return [
            r
            for r in self.rows
            if r.alert_id == alert_id
            and r.sent_at is None
            and (r.lease_until is None or r.lease_until < now)
        ]

    def unsent_alert_ids(self) -> set[int]:
        return {r.alert_id for r in self.rows if r.sent_at is None}

    def claim(
        self, now: datetime, lease_until: datetime, owner: str, alerts: int
    ) -> Sequence[AlertOutboxRow]:
        unsent = [r for r in self.rows if r.sent_at is None]
        held = {r.alert_id for r in unsent if r.lease_until is not None and r.lease_until >= now}
        due = [r for r in unsent if r.due_at <= now and r.alert_id not in held]
        chosen: list[int] = []
        for row in due:
            if row.alert_id not in chosen and len(chosen) < alerts:
                chosen.append(row.alert_id)
        claimed = [r for r in due if r.alert_id in chosen]
        for row in claimed:
            row.lease_until, row.lease_owner = lease_until, owner
        return claimed

    def by_ids(self, ids: Sequence[int]) -> Sequence[AlertOutboxRow]:
        return [r for r in self.rows if r.id in ids]


class FakeShadowWrites(_Repo):
    table = "shadow_writes"

    def for_flows(self, flows: Sequence[str], limit: int = 1000) -> Sequence[ShadowWriteRow]:
        return [r for r in reversed(self.rows) if r.flow in flows][:limit]

    def outcomes(self, flows: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            if row.flow in flows and row.outcome is not None:
                counts[row.outcome] = counts.get(row.outcome, 0) + 1
        return counts


class FakeFlowStates(_Repo):
    table = "flow_states"

    def get(self, flow: str) -> FlowStateRow | None:
        return next((r for r in self.rows if r.flow == flow), None)

    def put(self, row: FlowStateRow) -> None:
        existing = self.get(row.flow)
        if existing is not None and existing is not row:
            self.rows.remove(existing)
        if row not in self.rows:
            self.rows.append(row)

    def all(self) -> Sequence[FlowStateRow]:
        return list(self.rows)


class FakeActions(_Repo):
    table = "actions"

    def recent(self, subject: str | None = None, limit: int = 50) -> Sequence[ActionRow]:
        rows = [r for r in reversed(self.rows) if subject is None or r.subject == subject]
        return rows[:limit]


class FakeMatches(_Repo):
    table = "match_proposals"

    def get(self, proposal_id: int) -> MatchProposalRow | None:
        return next((r for r in self.rows if r.id == proposal_id), None)

    def for_entity(
        self, entity: str, statuses: Sequence[str] | None = None
    ) -> Sequence[MatchProposalRow]:
        return [
            r
            for r in self.rows
            if r.entity == entity and (statuses is None or r.status in statuses)
        ]

    def for_record(
        self, system: str, record_type: str, external_id: str
    ) -> Sequence[MatchProposalRow]:
        return [
            r
            for r in self.rows
            if (r.system, r.record_type, r.external_id) == (system, record_type, external_id)
        ]

    def pending_in(self, refs: Sequence[tuple[str, str]]) -> Sequence[MatchProposalRow]:
        pending = (MatchStatus.OPEN.value, MatchStatus.ACCEPTED.value)
        return [r for r in self.rows if (r.system, r.record_type) in refs and r.status in pending]

    def proposals_for(
        self, entity: str, pairs: Collection[tuple[str, str, str, str]]
    ) -> dict[tuple[str, str, str, str], MatchProposalRow]:
        wanted = set(pairs)
        return {
            key: r
            for r in self.rows
            if r.entity == entity
            and (key := (r.canonical_id, r.system, r.record_type, r.external_id)) in wanted
        }

    def unsettled(
        self, entity: str, refs: Collection[tuple[str, str]], actor: str
    ) -> list[tuple[int, str]]:
        return [
            (r.id, r.status)
            for r in self.rows
            if r.entity == entity
            and (r.system, r.record_type) in refs
            and (
                r.status == MatchStatus.OPEN.value
                or (r.status == MatchStatus.ACCEPTED.value and r.decided_by == actor)
            )
        ]

    def refused_records(self, entity: str, system: str, record_type: str) -> set[str]:
        refused = self.refusals([r.id for r in self.rows])
        return {
            r.external_id
            for r in self.rows
            if (r.entity, r.system, r.record_type) == (entity, system, record_type)
            and r.status == MatchStatus.OPEN.value
            and r.id in refused
        }

    def mark_stale(self, proposal_ids: Collection[int], now: datetime) -> None:
        for r in self.rows:
            if r.id in proposal_ids:
                r.status = MatchStatus.STALE.value
                r.updated_at = now

    def settle(self, proposal_id: int, expected: str, status: str) -> bool:
        row = self.get(proposal_id)
        if row is None or row.status != expected:
            return False
        row.status = status
        return True

    def add_decision(self, row: MatchDecisionRow) -> None:
        if row.id is None:
            row.id = next(self.data.ids)
        self.data.rows("match_decisions").append(row)

    def decisions(self, proposal_id: int) -> Sequence[MatchDecisionRow]:
        return [r for r in self.data.rows("match_decisions") if r.proposal_id == proposal_id]

    def refusals(self, proposal_ids: Collection[int]) -> dict[int, str]:
        return {
            r.proposal_id: r.reason or ""
            for r in self.data.rows("match_decisions")
            if r.proposal_id in proposal_ids and r.decision == REFUSED
        }

    def put_record(self, row: MatchRecordRow) -> None:
        self.put_records([row])

    def put_records(self, rows: Sequence[MatchRecordRow]) -> None:
        kept = self.data.rows("match_records")
        where = {(r.entity, r.system, r.record_type, r.external_id): i for i, r in enumerate(kept)}
        for row in rows:
            key = (row.entity, row.system, row.record_type, row.external_id)
            if key in where:
                if row.read_at >= kept[where[key]].read_at:  # never an earlier read's over
                    kept[where[key]] = row
            else:
                where[key] = len(kept)
                kept.append(row)

    def records(
        self, entity: str, refs: Collection[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], MatchRecordRow]:
        wanted = set(refs)
        return {
            (r.system, r.record_type, r.external_id): r
            for r in self.data.rows("match_records")
            if r.entity == entity and (r.system, r.record_type, r.external_id) in wanted
        }

    def record(
        self, entity: str, system: str, record_type: str, external_id: str
    ) -> MatchRecordRow | None:
        key = (entity, system, record_type, external_id)
        return next(
            (
                r
                for r in self.data.rows("match_records")
                if (r.entity, r.system, r.record_type, r.external_id) == key
            ),
            None,
        )

    def records_read(
        self, entity: str, system: str, record_type: str, since: datetime
    ) -> Sequence[MatchRecordRow]:
        wanted = (entity, system, record_type)
        return [
            r
            for r in self.data.rows("match_records")
            if (r.entity, r.system, r.record_type) == wanted and r.read_at >= since
        ]

    def last_read(self, entity: str, system: str, record_type: str) -> datetime | None:
        wanted = (entity, system, record_type)
        times = [
            r.read_at
            for r in self.data.rows("match_records")
            if (r.entity, r.system, r.record_type) == wanted
        ]
        return max(times, default=None)

    def count_read(
        self, entity: str, system: str, record_type: str, since: datetime
    ) -> tuple[int, int]:
        read = [r.external_id for r in self.records_read(entity, system, record_type, since)]
        linked = {
            r.external_id
            for r in self.data.rows("links")
            if (r.system, r.record_type) == (system, record_type)
        }
        return len(read), len([external_id for external_id in read if external_id not in linked])

    def put_blocks(
        self,
        entity: str,
        read_at: datetime,
        keys: Mapping[tuple[str, str, str], Collection[str]],
    ) -> None:
        kept = self.data.rows("match_blocks")
        replaced = {(entity, *ref) for ref in keys}
        # a later read's keys stay (as on the real store), and a key kept twice keeps the
        # later time
        kept[:] = [b for b in kept if b[1:5] not in replaced or b[5] > read_at]
        held = {b[:5]: index for index, b in enumerate(kept)}
        for (system, record_type, external_id), record_keys in keys.items():
            for key in record_keys:
                block = (key, entity, system, record_type, external_id)
                if block not in held:
                    kept.append((*block, read_at))

    def pairs_sharing_blocks(
        self,
        entity: str,
        left: tuple[str, str, datetime],
        right: tuple[str, str, datetime],
        max_pairs: int,
    ) -> Iterator[tuple[str, str]]:
        linked = {(r.system, r.record_type, r.external_id) for r in self.data.rows("links")}

        def side(where: tuple[str, str, datetime], free: bool) -> dict[str, set[str]]:
            system, record_type, since = where
            found: dict[str, set[str]] = {}
            for key, e, s, t, external_id, read_at in self.data.rows("match_blocks"):
                if (e, s, t) != (entity, system, record_type) or read_at < since:
                    continue
                if free and (s, t, external_id) in linked:
                    continue
                found.setdefault(key, set()).add(external_id)
            return found

        lefts, rights = side(left, False), side(right, True)
        pairs = {
            (i, j)
            for key, ins in lefts.items()
            if len(ins) * len(rights.get(key, ())) <= max_pairs
            for i in ins
            for j in rights.get(key, ())
        }
        return iter(sorted(pairs))

    def records_of(
        self, entity: str, system: str, record_type: str, external_ids: Collection[str]
    ) -> list[KeptRecord]:
        wanted = set(external_ids)
        return [
            KeptRecord(*(getattr(r, name) for name in KeptRecord._fields))
            for r in self.data.rows("match_records")
            if (r.entity, r.system, r.record_type) == (entity, system, record_type)
            and r.external_id in wanted
        ]


class FakeUnitOfWork:
    """Works on a deep copy of the committed data; commit publishes it, exit discards it."""

    def __init__(self, committed: FakeData) -> None:
        self._committed = committed
        self.committed = False

    def __enter__(self) -> Self:
        self.data = copy.deepcopy(self._committed)
        self.entities = FakeEntities(self.data)
        self.links = FakeLinks(self.data)
        self.cursors = FakeCursors(self.data)
        self.events = FakeEvents(self.data)
        self.attempts = FakeAttempts(self.data)
        self.phases = FakePhases(self.data)
        self.alerts = FakeAlerts(self.data)
        self.alert_outbox = FakeAlertOutbox(self.data)
        self.shadow_writes = FakeShadowWrites(self.data)
        self.flow_states = FakeFlowStates(self.data)
        self.actions = FakeActions(self.data)
        self.matches = FakeMatches(self.data)
        return self

    def __exit__(self, *exc: object) -> None:
        self.data = FakeData()

    def commit(self) -> None:
        self._committed.__dict__.update(copy.deepcopy(self.data).__dict__)
        self.committed = True

    def rollback(self) -> None:
        self.data = copy.deepcopy(self._committed)

    def flush(self) -> None:
        pass

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Rows added inside are dropped and rows changed inside get their values back, the
        same objects as before (callers may hold them), as a database savepoint does."""
        data = self.data
        tables = {name: list(rows) for name, rows in data.tables.items()}
        values = {
            id(row): copy.deepcopy({k: v for k, v in vars(row).items() if not k.startswith("_")})
            for rows in tables.values()
            for row in rows
        }
        cursors, alert_events = dict(data.cursors), set(data.alert_events)
        try:
            yield
        except BaseException:
            data.tables = tables
            for rows in tables.values():
                for row in rows:
                    for name, value in values[id(row)].items():
                        setattr(row, name, value)
            data.cursors, data.alert_events = cursors, alert_events
            raise


class FakeUnitOfWorkFactory:
    def __init__(self) -> None:
        self.data = FakeData()

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.data)

    def rows(self, table: str) -> list[Any]:
        """Committed rows of a table, for assertions."""
        return self.data.rows(table)
