"""The explicit retention policy: the only way rows leave the audit log.

Pruning removes events that are finished (delivered, superseded, ignored, or shadow writes of
a parallel period) and untouched since the cutoff, with their attempts, shadow writes and the
closed alerts that pointed at them. Events still waiting (pending, retrying) and dead events
are kept whatever their age: nobody has settled them yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from sync_core.store.models import (
    AlertEventRow,
    AlertOutboxRow,
    AlertRow,
    AttemptRow,
    EventRow,
    EventStatus,
    ShadowWriteRow,
)

FINISHED = (
    EventStatus.DELIVERED.value,
    EventStatus.SUPERSEDED.value,
    EventStatus.IGNORED.value,
    EventStatus.SHADOW.value,
)
CLOSED_ALERTS = ("resolved", "ignored")


@dataclass(frozen=True)
class PruneReport:
    events: int
    attempts: int
    shadow_writes: int
    alerts: int


def _prunable(cutoff: datetime) -> Select[int]:
    open_alert_events = (
        select(AlertEventRow.event_id)
        .join(AlertRow, AlertRow.id == AlertEventRow.alert_id)
        .where(AlertRow.state.not_in(CLOSED_ALERTS))
    )
    return select(EventRow.id).where(
        EventRow.status.in_(FINISHED),
        EventRow.updated_at < cutoff,
        EventRow.id.not_in(open_alert_events),
    )


def prune(session: Session, cutoff: datetime, *, dry_run: bool = False) -> PruneReport:
    """Delete what the policy allows; the caller commits (or, for a dry run, need not)."""
    events = _prunable(cutoff)

    def count(model: type[AttemptRow] | type[ShadowWriteRow], column: Any) -> int:
        return (
            session.scalar(select(func.count()).select_from(model).where(column.in_(events))) or 0
        )

    old_alerts = select(AlertRow.id).where(
        AlertRow.state.in_(CLOSED_ALERTS), AlertRow.updated_at < cutoff
    )
    report = PruneReport(
        events=session.scalar(select(func.count()).select_from(events.subquery())) or 0,
        attempts=count(AttemptRow, AttemptRow.event_id),
        shadow_writes=count(ShadowWriteRow, ShadowWriteRow.event_id),
        alerts=session.scalar(select(func.count()).select_from(old_alerts.subquery())) or 0,
    )
    if dry_run:
        return report
    session.execute(delete(AlertEventRow).where(AlertEventRow.alert_id.in_(old_alerts)))
    session.execute(delete(AlertOutboxRow).where(AlertOutboxRow.alert_id.in_(old_alerts)))
    session.execute(delete(AlertRow).where(AlertRow.id.in_(old_alerts)))
    # A closed alert younger than the cutoff may still name a pruned event: keep the alert.
    session.execute(update(AlertRow).where(AlertRow.event_id.in_(events)).values(event_id=None))
    session.execute(delete(AlertEventRow).where(AlertEventRow.event_id.in_(events)))
    session.execute(delete(AttemptRow).where(AttemptRow.event_id.in_(events)))
    session.execute(delete(ShadowWriteRow).where(ShadowWriteRow.event_id.in_(events)))
    session.execute(delete(EventRow).where(EventRow.id.in_(events)))
    return report
