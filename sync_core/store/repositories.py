"""SQLAlchemy implementations of the repositories in :mod:`sync_core.ports`."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.util import identity_key

from sync_core.naming import search_key
from sync_core.store import blocks, search
from sync_core.store.models import (
    OPEN_STATUSES,
    REFUSED,
    UNPLANNED_KINDS,
    ActionRow,
    AlertEventRow,
    AlertOutboxRow,
    AlertRow,
    AttemptRow,
    CursorRow,
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

# a fixed key for the transaction-scoped lock that takes claims one at a time on PostgreSQL
_CLAIM_LOCK = 0x48616E64_6F666601


def _open() -> Any:
    """``status IN ('pending', 'retrying')`` with the values written out, as in the partial
    index ``ix_events_open_due``: SQLite uses a partial index only for a query repeating its
    condition, which a bound parameter does not."""
    return EventRow.status.in_([literal_column(f"'{s.value}'") for s in OPEN_STATUSES])


def _write_in_flight(now: datetime) -> Any:
    """Another event writing the same target record holds a live lease."""
    other = aliased(EventRow)
    return (
        select(other.id)
        .where(
            other.target_canonical_id == EventRow.target_canonical_id,
            other.target_system == EventRow.target_system,
            other.target_record_type == EventRow.target_record_type,
            other.id != EventRow.id,
            other.lease_until >= now,
        )
        .exists()
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a PostgreSQL advisory lock named ``name``."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), signed=True)


class _Repo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _hold(self, name: str) -> None:
        """Keep other processes out of ``name`` until this transaction ends. On PostgreSQL a
        transaction-level advisory lock (waited for, released by commit or rollback); SQLite
        already serialises writers, since every transaction takes the write lock at BEGIN."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)}
            )

    def _insert_unless_present(self, row: Any) -> bool:
        """Insert ``row``; ``False`` when another process inserted the same key first (its
        row stands and this transaction goes on)."""
        self.session.flush()  # a conflict below must be this row's, not a pending one's
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            return False
        return True


class SqlEntities(_Repo):
    def get(self, canonical_id: str) -> EntityRow | None:
        return self.session.get(EntityRow, canonical_id)

    def get_many(self, canonical_ids: Collection[str]) -> Sequence[EntityRow]:
        if not canonical_ids:
            return []
        return self.session.scalars(
            select(EntityRow).where(EntityRow.canonical_id.in_(list(canonical_ids)))
        ).all()

    def add(self, row: EntityRow) -> None:
        self._insert_unless_present(row)  # another process may have met the customer first

    def add_new(self, row: EntityRow) -> None:
        self.session.add(row)

    def claim(self, row: EntityRow) -> bool:
        return self._insert_unless_present(row)

    def search(self, query: str, limit: int) -> Sequence[EntityRow]:
        key = search_key(query)
        if not key:
            return []
        exact = self.session.scalars(
            select(EntityRow).where(func.lower(EntityRow.canonical_id) == key)
        ).all()
        if exact:
            return exact
        # a system's own id (a Xero ContactID, an Asana gid) copied from that system's screen
        by_record = self.session.scalars(
            select(EntityRow)
            .join(LinkRow, LinkRow.canonical_id == EntityRow.canonical_id)
            .where(LinkRow.external_id == query.strip())
            .distinct()
            .limit(limit)
        ).all()
        if by_record:
            return by_record
        found = self.named_with([[key]], limit, by_name=False)
        return sorted(found, key=lambda row: (row.display_name, row.canonical_id))

    def named_like(self, text: str, limit: int) -> Sequence[EntityRow]:
        return self.named_with([[text]], limit)

    def named_with(
        self, groups: Sequence[Sequence[str]], limit: int, by_name: bool = True
    ) -> Sequence[EntityRow]:
        keys = [_keys(group) for group in groups]
        if not keys or not all(keys):
            return []
        stmt = self._matching(select(EntityRow), keys).limit(limit)
        if by_name:
            stmt = stmt.order_by(EntityRow.display_name)
        return self.session.scalars(stmt).all()

    def count_matches(self, query: str, cap: int | None = None) -> int:
        key = search_key(query)
        if not key:
            return 0
        exact = self.session.scalar(
            select(func.count())
            .select_from(EntityRow)
            .where(func.lower(EntityRow.canonical_id) == key)
        )
        if exact:
            return int(exact)
        matching = self._matching(select(literal(1)).select_from(EntityRow), [[key]])
        if cap is not None:
            matching = matching.limit(cap)
        return int(self.session.scalar(select(func.count()).select_from(matching.subquery())) or 0)

    def _matching(self, stmt: Select[Any], groups: list[list[str]]) -> Select[Any]:
        """``stmt`` (over ``entities``) narrowed to the names containing, for each group, one
        of its keys. On SQLite, when the FTS5 trigram table exists, the rows come from it
        (joined by rowid, so a ``LIMIT`` stops reading it early) for the groups whose keys
        all have a trigram, and the ``LIKE`` decides; on PostgreSQL the trigram index serves
        the ``LIKE`` itself."""
        stmt = stmt.where(
            *(
                or_(*(EntityRow.search_name.like(_like(key), escape="\\") for key in group))
                for group in groups
            )
        )
        connection = self.session.connection()
        if connection.dialect.name != "sqlite" or not search.sqlite_index_present(connection):
            return stmt
        indexed = [g for g in groups if min(len(key) for key in g) >= search.TRIGRAM]
        if not indexed:
            return stmt
        match = " AND ".join(f"({search.fts_any(group)})" for group in indexed)
        return stmt.join(_FTS, text(f"{search.FTS_TABLE}.rowid = entities.rowid")).where(
            text(f"{search.FTS_TABLE} MATCH :name_match").bindparams(name_match=match)
        )


_FTS = table(search.FTS_TABLE, column("rowid"))


def _keys(texts: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(key for key in map(search_key, texts) if key))


class SqlLinks(_Repo):
    def by_record(self, system: str, record_type: str, external_id: str) -> LinkRow | None:
        return self.session.scalars(
            select(LinkRow).where(
                LinkRow.system == system,
                LinkRow.record_type == record_type,
                LinkRow.external_id == external_id,
            )
        ).first()

    def for_entity(self, canonical_id: str) -> Sequence[LinkRow]:
        return self.session.scalars(
            select(LinkRow).where(LinkRow.canonical_id == canonical_id).order_by(LinkRow.id)
        ).all()

    def for_entities(self, canonical_ids: Sequence[str]) -> Sequence[LinkRow]:
        if not canonical_ids:
            return []
        return self.session.scalars(
            select(LinkRow)
            .where(LinkRow.canonical_id.in_(list(canonical_ids)))
            .order_by(LinkRow.id)
        ).all()

    def find(self, canonical_id: str, system: str, record_type: str) -> LinkRow | None:
        return self.session.scalars(
            select(LinkRow).where(
                LinkRow.canonical_id == canonical_id,
                LinkRow.system == system,
                LinkRow.record_type == record_type,
            )
        ).first()

    def by_records(
        self, system: str, record_type: str, external_ids: Collection[str]
    ) -> Sequence[LinkRow]:
        if not external_ids:
            return []
        return self.session.scalars(
            select(LinkRow)
            .where(
                LinkRow.system == system,
                LinkRow.record_type == record_type,
                LinkRow.external_id.in_(list(external_ids)),
            )
            .order_by(LinkRow.id)
        ).all()

    def in_system(
        self, canonical_ids: Collection[str], system: str, record_type: str
    ) -> Sequence[LinkRow]:
        if not canonical_ids:
            return []
        return self.session.scalars(
            select(LinkRow)
            .where(
                LinkRow.canonical_id.in_(list(canonical_ids)),
                LinkRow.system == system,
                LinkRow.record_type == record_type,
            )
            .order_by(LinkRow.id)
        ).all()

    def add(self, row: LinkRow) -> None:
        self._insert_unless_present(row)  # another process may have linked the record first

    def remove(self, row: LinkRow) -> None:
        self.session.delete(row)

    def add_new(self, row: LinkRow) -> None:
        self.session.add(row)


class SqlCursors(_Repo):
    def lock(self, system: str, record_type: str) -> None:
        """Hold the cursor of ``system.record_type`` until this transaction ends: one process
        at a time plans its changes and moves it."""
        self._hold(f"cursor:{system}:{record_type}")

    def get(self, system: str, record_type: str) -> str | None:
        row = self.session.get(CursorRow, (system, record_type))
        return row.cursor if row else None

    def put(self, system: str, record_type: str, cursor: str | None, now: datetime) -> None:
        self.lock(system, record_type)
        row = self.session.get(CursorRow, (system, record_type))
        if row is None:
            self.session.add(
                CursorRow(system=system, record_type=record_type, cursor=cursor, updated_at=now)
            )
        else:
            row.cursor = cursor
            row.updated_at = now


class SqlEvents(_Repo):
    def add(self, row: EventRow) -> None:
        self.session.add(row)

    def get(self, event_id: int) -> EventRow | None:
        return self.session.get(EventRow, event_id)

    def latest_for(self, flow: str, canonical_id: str) -> EventRow | None:
        return self.session.scalars(
            select(EventRow)
            .where(EventRow.flow == flow, EventRow.canonical_id == canonical_id)
            .order_by(EventRow.id.desc())
            .limit(1)
        ).first()

    def open_for(self, flow: str, canonical_id: str) -> Sequence[EventRow]:
        return self.session.scalars(
            select(EventRow).where(
                EventRow.flow == flow,
                EventRow.canonical_id == canonical_id,
                EventRow.status.in_([s.value for s in OPEN_STATUSES]),
            )
        ).all()

    def unplanned_for(self, flow: str, canonical_id: str) -> Sequence[EventRow]:
        return self.session.scalars(
            select(EventRow).where(
                EventRow.flow == flow,
                EventRow.canonical_id == canonical_id,
                EventRow.status == EventStatus.DEAD.value,
                EventRow.last_error_kind.in_(UNPLANNED_KINDS),
            )
        ).all()

    def planning_state(
        self, flows: Collection[str], canonical_ids: Collection[str]
    ) -> Sequence[EventRow]:
        if not flows or not canonical_ids:
            return []
        pairs = and_(EventRow.flow.in_(list(flows)), EventRow.canonical_id.in_(list(canonical_ids)))
        newest = (
            select(func.max(EventRow.id))
            .where(pairs)
            .group_by(EventRow.flow, EventRow.canonical_id)
        )
        return self.session.scalars(
            select(EventRow)
            .where(
                pairs,
                or_(
                    EventRow.id.in_(newest),
                    EventRow.status.in_([s.value for s in OPEN_STATUSES]),
                    and_(
                        EventRow.status == EventStatus.DEAD.value,
                        EventRow.last_error_kind.in_(UNPLANNED_KINDS),
                    ),
                ),
            )
            .order_by(EventRow.id)
        ).all()

    def get_many(self, event_ids: Collection[int]) -> Sequence[EventRow]:
        if not event_ids:
            return []
        return self.session.scalars(
            select(EventRow).where(EventRow.id.in_(list(event_ids))).order_by(EventRow.id)
        ).all()

    def claim_due(
        self, now: datetime, lease_until: datetime, owner: str, limit: int
    ) -> Sequence[EventRow]:
        pg = self.session.get_bind().dialect.name == "postgresql"
        if pg:
            # Claims are taken one at a time across workers, so the check below that no other
            # write to the same record is in flight sees every lease already granted.
            self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK})
        due = (
            select(
                EventRow.id,
                EventRow.target_system,
                EventRow.target_record_type,
                EventRow.target_canonical_id,
            )
            .where(
                _open(),
                EventRow.next_attempt_at <= now,
                or_(EventRow.lease_until.is_(None), EventRow.lease_until < now),
                ~_write_in_flight(now),
            )
            .order_by(EventRow.next_attempt_at, EventRow.id)
            .limit(limit)
            # SQLite, whose tables' statistics are never gathered, would otherwise read every
            # due event by status and sort them all; the index gives them in claim order.
            .with_hint(EventRow, "INDEXED BY ix_events_open_due", "sqlite")
        )
        if pg:
            # Other workers skip rows this one holds instead of waiting for them.
            due = due.with_for_update(skip_locked=True, of=EventRow)
        ids: list[int] = []
        targets: set[tuple[str, str, str]] = set()
        for event_id, system, record_type, canonical_id in self.session.execute(due):
            # One write per target record at a time: two writes of one record in flight
            # together could both find nothing and both create it.
            if (system, record_type, canonical_id) not in targets:
                targets.add((system, record_type, canonical_id))
                ids.append(event_id)
        if not ids:
            return []
        # The lease and the record's other writes are re-checked in the UPDATE, so a row
        # another process leased between our SELECT and here (possible on engines without
        # row locks) is not taken twice.
        self.session.execute(
            update(EventRow)
            .where(
                EventRow.id.in_(ids),
                or_(EventRow.lease_until.is_(None), EventRow.lease_until < now),
                ~_write_in_flight(now),
            )
            .values(lease_until=lease_until, lease_owner=owner)
            .execution_options(synchronize_session=False)
        )
        rows = self.session.scalars(
            select(EventRow)
            .where(
                EventRow.id.in_(ids),
                EventRow.lease_owner == owner,
                EventRow.lease_until == lease_until,
            )
            .order_by(EventRow.next_attempt_at, EventRow.id)
            .execution_options(populate_existing=True)
        ).all()
        return rows

    def renew_leases(
        self, ids: Sequence[int], owner: str, held_until: datetime, lease_until: datetime
    ) -> int:
        result = self.session.execute(
            update(EventRow)
            .where(
                EventRow.id.in_(list(ids)),
                EventRow.lease_owner == owner,
                EventRow.lease_until == held_until,
            )
            .values(lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def release_leases(
        self,
        owner: str,
        ids: Sequence[int] | None = None,
        held_until: datetime | None = None,
    ) -> int:
        stmt = update(EventRow).where(EventRow.lease_owner == owner)
        if ids is not None:
            stmt = stmt.where(EventRow.id.in_(list(ids)))
        if held_until is not None:
            stmt = stmt.where(EventRow.lease_until == held_until)
        result = self.session.execute(
            stmt.values(lease_until=None, lease_owner=None).execution_options(
                synchronize_session=False
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def held_elsewhere(self, now: datetime, owner: str) -> tuple[int, datetime | None]:
        row = self.session.execute(
            select(func.count(), func.max(EventRow.lease_until)).where(
                EventRow.status.in_([s.value for s in OPEN_STATUSES]),
                EventRow.lease_until >= now,
                EventRow.lease_owner != owner,
            )
        ).one()
        return int(row[0]), row[1]

    def dead(self, limit: int = 1000) -> Sequence[EventRow]:
        return self.session.scalars(
            select(EventRow)
            .where(EventRow.status == EventStatus.DEAD.value)
            .order_by(EventRow.id)
            .limit(limit)
        ).all()

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
        conditions: list[Any] = []
        if canonical_ids is not None:
            ids = list(canonical_ids)
            if targets:
                conditions.append(
                    or_(EventRow.canonical_id.in_(ids), EventRow.target_canonical_id.in_(ids))
                )
            else:
                conditions.append(EventRow.canonical_id.in_(ids))
        if system:
            conditions.append(
                or_(EventRow.source_system == system, EventRow.target_system == system)
            )
        if status:
            conditions.append(EventRow.status == status)
        if since is not None:
            conditions.append(EventRow.updated_at >= since)
        if flows is not None:
            conditions.append(EventRow.flow.in_(list(flows)))
        if before_id is not None:
            conditions.append(EventRow.id < before_id)
        stmt = (
            select(EventRow)
            .where(and_(True, *conditions))
            .order_by(EventRow.id.desc())
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def latest_per_flow(self, canonical_id: str) -> Sequence[EventRow]:
        newest = (
            select(func.max(EventRow.id))
            .where(EventRow.canonical_id == canonical_id)
            .group_by(EventRow.flow)
        )
        return self.session.scalars(
            select(EventRow).where(EventRow.id.in_(newest)).order_by(EventRow.flow)
        ).all()

    def latest_per_flow_of(
        self, canonical_ids: Sequence[str], *, as_target: bool = False
    ) -> Sequence[EventRow]:
        if not canonical_ids:
            return []
        entity = EventRow.target_canonical_id if as_target else EventRow.canonical_id
        newest = (
            select(func.max(EventRow.id))
            .where(entity.in_(list(canonical_ids)))
            .group_by(entity, EventRow.flow)
        )
        return self.session.scalars(
            select(EventRow).where(EventRow.id.in_(newest)).order_by(EventRow.flow)
        ).all()

    def count_by_status(
        self, flows: Sequence[str] | None = None, since: datetime | None = None
    ) -> dict[str, int]:
        stmt = select(EventRow.status, func.count()).group_by(EventRow.status)
        if flows is not None:
            stmt = stmt.where(EventRow.flow.in_(list(flows)))
        if since is not None:
            stmt = stmt.where(EventRow.updated_at >= since)
        return {row[0]: row[1] for row in self.session.execute(stmt)}


class SqlAttempts(_Repo):
    def add(self, row: AttemptRow) -> None:
        self.session.add(row)

    def for_event(self, event_id: int) -> Sequence[AttemptRow]:
        return self.session.scalars(
            select(AttemptRow).where(AttemptRow.event_id == event_id).order_by(AttemptRow.id)
        ).all()


class SqlPhases(_Repo):
    def get(self, phase_id: int) -> PhaseRow | None:
        return self.session.get(PhaseRow, phase_id)

    def all(self) -> Sequence[PhaseRow]:
        return self.session.scalars(select(PhaseRow).order_by(PhaseRow.id)).all()

    def add(self, row: PhaseRow) -> bool:
        return self._insert_unless_present(row)  # two processes starting at once both add it

    def hold_start(self, phase_id: int) -> None:
        self._hold(f"phase-start:{phase_id}")

    def add_change(self, row: PhaseChangeRow) -> None:
        self.session.add(row)

    def changes(self, phase_id: int) -> Sequence[PhaseChangeRow]:
        return self.session.scalars(
            select(PhaseChangeRow)
            .where(PhaseChangeRow.phase_id == phase_id)
            .order_by(PhaseChangeRow.id)
        ).all()


class SqlAlerts(_Repo):
    def add(self, row: AlertRow) -> None:
        self.session.add(row)

    def get(self, alert_id: int) -> AlertRow | None:
        return self.session.get(AlertRow, alert_id)

    def open_group(self, group_key: str) -> AlertRow | None:
        return self.session.scalars(
            select(AlertRow)
            .where(AlertRow.group_key == group_key, AlertRow.state.in_(["open", "acknowledged"]))
            .order_by(AlertRow.id.desc())
            .limit(1)
        ).first()

    def open_alerts(self) -> Sequence[AlertRow]:
        return self.session.scalars(
            select(AlertRow)
            .where(AlertRow.state.in_(["open", "acknowledged"]))
            .order_by(AlertRow.id)
        ).all()

    def attach(self, alert_id: int, event_id: int) -> None:
        if self.session.get(AlertEventRow, (alert_id, event_id)) is None:
            self.session.add(AlertEventRow(alert_id=alert_id, event_id=event_id))

    def event_ids(self, alert_id: int) -> Sequence[int]:
        return self.session.scalars(
            select(AlertEventRow.event_id)
            .where(AlertEventRow.alert_id == alert_id)
            .order_by(AlertEventRow.event_id)
        ).all()

    def for_event(self, event_id: int) -> AlertRow | None:
        return self.session.scalars(
            select(AlertRow)
            .join(AlertEventRow, AlertEventRow.alert_id == AlertRow.id)
            .where(AlertEventRow.event_id == event_id)
            .order_by(AlertRow.id.desc())
            .limit(1)
        ).first()


class SqlAlertOutbox(_Repo):
    def add(self, row: AlertOutboxRow) -> None:
        self.session.add(row)

    def waiting(self, alert_id: int, now: datetime) -> Sequence[AlertOutboxRow]:
        """Unsent rows of an alert that no sender holds now (a change can join them)."""
        return self.session.scalars(
            select(AlertOutboxRow)
            .where(
                AlertOutboxRow.alert_id == alert_id,
                AlertOutboxRow.sent_at.is_(None),
                or_(AlertOutboxRow.lease_until.is_(None), AlertOutboxRow.lease_until < now),
            )
            .order_by(AlertOutboxRow.id)
        ).all()

    def unsent_alert_ids(self) -> set[int]:
        return set(
            self.session.scalars(
                select(AlertOutboxRow.alert_id).where(AlertOutboxRow.sent_at.is_(None))
            ).all()
        )

    def claim(
        self, now: datetime, lease_until: datetime, owner: str, alerts: int
    ) -> Sequence[AlertOutboxRow]:
        """Lease every due row of up to ``alerts`` alerts that no other sender holds a row
        of: one alert is only ever sent by one sender at a time, its rows together."""
        self._hold("alert-outbox")  # claims are made one at a time across processes
        held = select(AlertOutboxRow.alert_id).where(
            AlertOutboxRow.sent_at.is_(None), AlertOutboxRow.lease_until >= now
        )
        due = (
            select(AlertOutboxRow.alert_id)
            .where(
                AlertOutboxRow.sent_at.is_(None),
                AlertOutboxRow.due_at <= now,
                AlertOutboxRow.alert_id.not_in(held),
            )
            .group_by(AlertOutboxRow.alert_id)
            .order_by(func.min(AlertOutboxRow.id))
            .limit(alerts)
        )
        alert_ids = list(self.session.scalars(due).all())
        if not alert_ids:
            return []
        self.session.execute(
            update(AlertOutboxRow)
            .where(
                AlertOutboxRow.alert_id.in_(alert_ids),
                AlertOutboxRow.sent_at.is_(None),
                AlertOutboxRow.due_at <= now,
            )
            .values(lease_until=lease_until, lease_owner=owner)
            .execution_options(synchronize_session=False)
        )
        return self.session.scalars(
            select(AlertOutboxRow)
            .where(
                AlertOutboxRow.alert_id.in_(alert_ids),
                AlertOutboxRow.lease_owner == owner,
                AlertOutboxRow.lease_until == lease_until,
                AlertOutboxRow.sent_at.is_(None),
            )
            .order_by(AlertOutboxRow.id)
            .execution_options(populate_existing=True)
        ).all()

    def by_ids(self, ids: Sequence[int]) -> Sequence[AlertOutboxRow]:
        return self.session.scalars(
            select(AlertOutboxRow).where(AlertOutboxRow.id.in_(ids)).order_by(AlertOutboxRow.id)
        ).all()


class SqlShadowWrites(_Repo):
    def add(self, row: ShadowWriteRow) -> None:
        self.session.add(row)

    def for_flows(self, flows: Sequence[str], limit: int = 1000) -> Sequence[ShadowWriteRow]:
        return self.session.scalars(
            select(ShadowWriteRow)
            .where(ShadowWriteRow.flow.in_(list(flows)))
            .order_by(ShadowWriteRow.id.desc())
            .limit(limit)
        ).all()

    def outcomes(self, flows: Sequence[str]) -> dict[str, int]:
        stmt = (
            select(ShadowWriteRow.outcome, func.count())
            .where(ShadowWriteRow.flow.in_(list(flows)), ShadowWriteRow.outcome.is_not(None))
            .group_by(ShadowWriteRow.outcome)
        )
        return {str(row[0]): int(row[1]) for row in self.session.execute(stmt)}


class SqlFlowStates(_Repo):
    def get(self, flow: str) -> FlowStateRow | None:
        return self.session.get(FlowStateRow, flow)

    def put(self, row: FlowStateRow) -> None:
        # Two processes must not both insert a new flow's row. The lock is taken before the
        # row's pending change is flushed: flushed first, the row's lock would be held while
        # waiting for this one, and a process holding this one waits for the row (a deadlock).
        with self.session.no_autoflush:
            self._hold(f"flow:{row.flow}")
        self.session.merge(row)

    def all(self) -> Sequence[FlowStateRow]:
        return self.session.scalars(select(FlowStateRow).order_by(FlowStateRow.flow)).all()


class SqlActions(_Repo):
    def add(self, row: ActionRow) -> None:
        self.session.add(row)

    def recent(self, subject: str | None = None, limit: int = 50) -> Sequence[ActionRow]:
        stmt = select(ActionRow).order_by(ActionRow.id.desc()).limit(limit)
        if subject is not None:
            stmt = stmt.where(ActionRow.subject == subject)
        return self.session.scalars(stmt).all()


PENDING_MATCH = (MatchStatus.OPEN.value, MatchStatus.ACCEPTED.value)


_RECORD_KEY = ("entity", "system", "record_type", "external_id")
_RECORD_VALUES = ("display_name", "url", "keys", "normalised", "read_at")
_RECORD_COLUMNS = _RECORD_KEY + _RECORD_VALUES
_RECORD_CHUNK = 500  # rows per statement: 4,000 parameters, within SQLite's limit


def _record_key(row: MatchRecordRow) -> tuple[str, str, str, str]:
    return (row.entity, row.system, row.record_type, row.external_id)


class SqlMatches(_Repo):
    def add(self, row: MatchProposalRow) -> None:
        self.session.add(row)

    def get(self, proposal_id: int) -> MatchProposalRow | None:
        return self.session.get(MatchProposalRow, proposal_id)

    def for_entity(
        self, entity: str, statuses: Sequence[str] | None = None
    ) -> Sequence[MatchProposalRow]:
        stmt = select(MatchProposalRow).where(MatchProposalRow.entity == entity)
        if statuses is not None:
            stmt = stmt.where(MatchProposalRow.status.in_(list(statuses)))
        return self.session.scalars(stmt.order_by(MatchProposalRow.id)).all()

    def for_record(
        self, system: str, record_type: str, external_id: str
    ) -> Sequence[MatchProposalRow]:
        return self.session.scalars(
            select(MatchProposalRow)
            .where(
                MatchProposalRow.system == system,
                MatchProposalRow.record_type == record_type,
                MatchProposalRow.external_id == external_id,
            )
            .order_by(MatchProposalRow.id)
        ).all()

    def pending_in(self, refs: Sequence[tuple[str, str]]) -> Sequence[MatchProposalRow]:
        if not refs:
            return []
        by_ref = or_(
            *(
                and_(MatchProposalRow.system == system, MatchProposalRow.record_type == rtype)
                for system, rtype in refs
            )
        )
        return self.session.scalars(
            select(MatchProposalRow)
            .where(by_ref, MatchProposalRow.status.in_(PENDING_MATCH))
            .order_by(MatchProposalRow.id)
        ).all()

    def proposals_for(
        self, entity: str, pairs: Collection[tuple[str, str, str, str]]
    ) -> dict[tuple[str, str, str, str], MatchProposalRow]:
        wanted = sorted(set(pairs))
        found: dict[tuple[str, str, str, str], MatchProposalRow] = {}
        for start in range(0, len(wanted), _RECORD_CHUNK):  # by uq_match_pair
            rows = self.session.scalars(
                select(MatchProposalRow).where(
                    MatchProposalRow.entity == entity,
                    tuple_(
                        MatchProposalRow.canonical_id,
                        MatchProposalRow.system,
                        MatchProposalRow.record_type,
                        MatchProposalRow.external_id,
                    ).in_(wanted[start : start + _RECORD_CHUNK]),
                )
            )
            found.update(
                {(r.canonical_id, r.system, r.record_type, r.external_id): r for r in rows}
            )
        return found

    def unsettled(
        self, entity: str, refs: Collection[tuple[str, str]], actor: str
    ) -> list[tuple[int, str]]:
        if not refs:
            return []
        by_ref = or_(
            *(
                and_(MatchProposalRow.system == system, MatchProposalRow.record_type == rtype)
                for system, rtype in sorted(refs)
            )
        )
        unsettled = or_(
            MatchProposalRow.status == MatchStatus.OPEN.value,
            and_(
                MatchProposalRow.status == MatchStatus.ACCEPTED.value,
                MatchProposalRow.decided_by == actor,
            ),
        )
        rows = self.session.execute(
            select(MatchProposalRow.id, MatchProposalRow.status)
            .where(MatchProposalRow.entity == entity, by_ref, unsettled)
            .order_by(MatchProposalRow.id)
        )
        return [(int(proposal_id), str(status)) for proposal_id, status in rows]

    def refused_records(self, entity: str, system: str, record_type: str) -> set[str]:
        refused = (
            select(MatchDecisionRow.id)
            .where(
                MatchDecisionRow.proposal_id == MatchProposalRow.id,
                MatchDecisionRow.decision == REFUSED,
            )
            .exists()
        )
        return set(
            self.session.scalars(
                select(MatchProposalRow.external_id).where(
                    MatchProposalRow.entity == entity,
                    MatchProposalRow.system == system,
                    MatchProposalRow.record_type == record_type,
                    MatchProposalRow.status == MatchStatus.OPEN.value,
                    refused,
                )
            )
        )

    def mark_stale(self, proposal_ids: Collection[int], now: datetime) -> None:
        wanted = sorted(set(proposal_ids))
        for start in range(0, len(wanted), _RECORD_CHUNK):
            self.session.execute(
                update(MatchProposalRow)
                .where(MatchProposalRow.id.in_(wanted[start : start + _RECORD_CHUNK]))
                .values(status=MatchStatus.STALE.value, updated_at=now)
                .execution_options(synchronize_session="fetch")
            )

    def settle(self, proposal_id: int, expected: str, status: str) -> bool:
        result = self.session.execute(
            update(MatchProposalRow)
            .where(MatchProposalRow.id == proposal_id, MatchProposalRow.status == expected)
            .values(status=status)
            .execution_options(synchronize_session="fetch")
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    def add_decision(self, row: MatchDecisionRow) -> None:
        self.session.add(row)

    def put_record(self, row: MatchRecordRow) -> None:
        self.put_records([row])

    def put_records(self, rows: Sequence[MatchRecordRow]) -> None:
        # INSERT ... ON CONFLICT DO UPDATE (both engines have it), its rows sent together as
        # one multi-row statement per chunk: RETURNING makes SQLAlchemy batch them so on
        # both drivers, and the statement, the same each time, is compiled once. A key given
        # twice keeps its last row, as one merge after another would.
        by_key = {_record_key(row): row for row in rows}
        if not by_key:
            return
        postgres = self.session.get_bind().dialect.name == "postgresql"
        table = MatchRecordRow.metadata.tables[MatchRecordRow.__tablename__]
        upsert = (pg_insert if postgres else sqlite_insert)(table)
        statement = upsert.on_conflict_do_update(
            index_elements=list(_RECORD_KEY),
            set_={name: upsert.excluded[name] for name in _RECORD_VALUES},
            # two reads at once: a row of the later read is never replaced by the earlier
            # one's, which would drop the record from the later read's window
            where=upsert.excluded.read_at >= table.c.read_at,
        ).returning(table.c.external_id)
        values = [{name: getattr(row, name) for name in _RECORD_COLUMNS} for row in by_key.values()]
        connection = self.session.connection()
        for start in range(0, len(values), _RECORD_CHUNK):
            connection.execute(
                statement.execution_options(insertmanyvalues_page_size=_RECORD_CHUNK),
                values[start : start + _RECORD_CHUNK],
            ).all()
        for key in by_key:  # a row this session holds is read again when next used
            held = self.session.identity_map.get(identity_key(MatchRecordRow, key))
            if held is not None:
                self.session.expire(held)

    def record(
        self, entity: str, system: str, record_type: str, external_id: str
    ) -> MatchRecordRow | None:
        return self.session.get(MatchRecordRow, (entity, system, record_type, external_id))

    def records(
        self, entity: str, refs: Collection[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], MatchRecordRow]:
        wanted = sorted(set(refs))
        found: dict[tuple[str, str, str], MatchRecordRow] = {}
        for start in range(0, len(wanted), _RECORD_CHUNK):
            chunk = wanted[start : start + _RECORD_CHUNK]
            rows = self.session.scalars(
                select(MatchRecordRow).where(
                    MatchRecordRow.entity == entity,
                    tuple_(
                        MatchRecordRow.system,
                        MatchRecordRow.record_type,
                        MatchRecordRow.external_id,
                    ).in_(chunk),
                )
            )
            found.update({(r.system, r.record_type, r.external_id): r for r in rows})
        return found

    def last_read(self, entity: str, system: str, record_type: str) -> datetime | None:
        return self.session.scalar(
            select(func.max(MatchRecordRow.read_at)).where(
                MatchRecordRow.entity == entity,
                MatchRecordRow.system == system,
                MatchRecordRow.record_type == record_type,
            )
        )

    def count_read(
        self, entity: str, system: str, record_type: str, since: datetime
    ) -> tuple[int, int]:
        linked = (
            select(LinkRow.id)
            .where(
                LinkRow.system == MatchRecordRow.system,
                LinkRow.record_type == MatchRecordRow.record_type,
                LinkRow.external_id == MatchRecordRow.external_id,
            )
            .exists()
        )
        read, free = self.session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((linked, 0), else_=1)), 0),
            ).where(
                MatchRecordRow.entity == entity,
                MatchRecordRow.system == system,
                MatchRecordRow.record_type == record_type,
                MatchRecordRow.read_at >= since,
            )
        ).one()
        return int(read), int(free)

    def records_read(
        self, entity: str, system: str, record_type: str, since: datetime
    ) -> Iterator[MatchRecordRow]:
        # streamed: a server-side cursor on PostgreSQL, rows fetched a chunk at a time
        yield from self.session.scalars(
            select(MatchRecordRow)
            .where(
                MatchRecordRow.entity == entity,
                MatchRecordRow.system == system,
                MatchRecordRow.record_type == record_type,
                MatchRecordRow.read_at >= since,
            )
            .execution_options(yield_per=_RECORD_CHUNK)
        )

    def put_blocks(
        self,
        entity: str,
        read_at: datetime,
        keys: Mapping[tuple[str, str, str], Collection[str]],
    ) -> None:
        blocks.put_blocks(self.session, entity, read_at, keys)

    def pairs_sharing_blocks(
        self,
        entity: str,
        left: tuple[str, str, datetime],
        right: tuple[str, str, datetime],
        max_pairs: int,
    ) -> Iterator[tuple[str, str]]:
        return blocks.pairs_sharing_blocks(self.session, entity, left, right, max_pairs)

    def records_of(
        self, entity: str, system: str, record_type: str, external_ids: Collection[str]
    ) -> list[KeptRecord]:
        return blocks.records_of(self.session, entity, system, record_type, external_ids)

    def decisions(self, proposal_id: int) -> Sequence[MatchDecisionRow]:
        return self.session.scalars(
            select(MatchDecisionRow)
            .where(MatchDecisionRow.proposal_id == proposal_id)
            .order_by(MatchDecisionRow.id)
        ).all()

    def refusals(self, proposal_ids: Collection[int]) -> dict[int, str]:
        wanted = sorted(set(proposal_ids))
        found: dict[int, str] = {}
        for start in range(0, len(wanted), _RECORD_CHUNK):  # by ix_match_decisions_proposal
            rows = self.session.execute(
                select(MatchDecisionRow.proposal_id, MatchDecisionRow.reason)
                .where(
                    MatchDecisionRow.proposal_id.in_(wanted[start : start + _RECORD_CHUNK]),
                    MatchDecisionRow.decision == REFUSED,
                )
                .order_by(MatchDecisionRow.id)
            )
            found.update({proposal_id: reason or "" for proposal_id, reason in rows})
        return found
