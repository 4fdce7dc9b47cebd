"""An alert as people see it: what failed, why, how often, and where the records are."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sync_core.operations import OUTCOME_ACTION
from sync_core.ports import UnitOfWork
from sync_core.queries import EventSummary, RecordLink
from sync_core.store.models import AlertRow

SHOWN_EVENTS = 5


@dataclass(frozen=True)
class ClickOutcome:
    """The last click's outcome on an alert, as recorded (see ``operations.record_outcome``)."""

    kind: str  # delivered | failed | ignored | nothing
    actor: str  # as in the audit log: ``slack:U0OPS``
    at: datetime
    text: str


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
    latest: EventSummary | None = None  # the event that failed last (its reason is the news)
    outcome: ClickOutcome | None = None


def alert_detail(uow: UnitOfWork, alert_id: int) -> AlertDetail | None:
    alert = uow.alerts.get(alert_id)
    if alert is None:
        return None
    return detail_of(uow, alert)


def detail_of(uow: UnitOfWork, alert: AlertRow) -> AlertDetail:
    ids = list(uow.alerts.event_ids(alert.id))
    events = [EventSummary.of(row) for i in ids[:SHOWN_EVENTS] if (row := uow.events.get(i))]
    latest = None
    if events:
        last = uow.events.get(ids[-1]) if len(ids) > len(events) else None
        candidates = [*events, *([EventSummary.of(last)] if last is not None else [])]
        latest = max(candidates, key=lambda e: (e.at, e.id))
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
        latest=latest,
        outcome=last_outcome(uow, alert.id),
    )


def last_outcome(uow: UnitOfWork, alert_id: int) -> ClickOutcome | None:
    for action in uow.actions.recent(subject=f"alert:{alert_id}", limit=20):
        if action.action == OUTCOME_ACTION and action.detail:
            return ClickOutcome(
                kind=str(action.detail.get("kind", "")),
                actor=action.actor,
                at=action.at,
                text=str(action.detail.get("text", "")),
            )
    return None
