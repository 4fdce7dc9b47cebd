"""An alert as people see it: what failed, why, how often, and where the records are."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sync_core.ports import UnitOfWork
from sync_core.queries import EventSummary, RecordLink
from sync_core.store.models import AlertRow

SHOWN_EVENTS = 5


@dataclass(frozen=True)
class AlertDetail:
    id: int
    state: str
    grouped: bool
    count: int
    group_key: str
    summary: str
    channel: str | None
    message_ts: str | None
    acknowledged_by: str | None
    created_at: datetime
    escalated_at: datetime | None
    resolved_at: datetime | None
    target_system: str
    error_kind: str
    events: list[EventSummary] = field(default_factory=list)  # the first few
    links: list[RecordLink] = field(default_factory=list)  # of the first event's customer
    event_count: int = 0


def alert_detail(uow: UnitOfWork, alert_id: int) -> AlertDetail | None:
    alert = uow.alerts.get(alert_id)
    if alert is None:
        return None
    return detail_of(uow, alert)


def detail_of(uow: UnitOfWork, alert: AlertRow) -> AlertDetail:
    ids = list(uow.alerts.event_ids(alert.id))
    events = [EventSummary.of(row) for i in ids[:SHOWN_EVENTS] if (row := uow.events.get(i))]
    links: list[RecordLink] = []
    if events:
        first = uow.events.get(events[0].id)
        canonical = first.target_canonical_id if first else events[0].canonical_id
        links = [RecordLink.of(link) for link in uow.links.for_entity(canonical)]
    scope, _, kind = alert.group_key.rpartition(":")
    target = scope
    if scope.startswith("flow:"):  # a flow's records that could not be planned
        target = events[0].target.partition(".")[0] if events else ""
    return AlertDetail(
        id=alert.id,
        state=alert.state,
        grouped=alert.grouped,
        count=alert.count,
        group_key=alert.group_key,
        summary=alert.summary,
        channel=alert.channel,
        message_ts=alert.message_ts,
        acknowledged_by=alert.acknowledged_by,
        created_at=alert.created_at,
        escalated_at=alert.escalated_at,
        resolved_at=alert.resolved_at,
        target_system=target,
        error_kind=kind,
        events=events,
        links=links,
        event_count=len(ids),
    )
