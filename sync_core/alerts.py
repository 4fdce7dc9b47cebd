"""What becomes an alert, and how alerts with one cause are grouped.

The engine records alerts in the store inside its transaction; an :class:`AlertSink` (the
terminal now, Slack in the bot) is told after the commit. Many failures with one cause (same
target system and error class within the group window) share one alert with a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from connectors.redaction import redact_text
from sync_core.map.model import AlertSettings
from sync_core.ports import UnitOfWork
from sync_core.store.models import UNPLANNED_KINDS, AlertRow, EventRow

log = structlog.get_logger("handoff.alerts")


class AlertState:
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    IGNORED = "ignored"


@dataclass(frozen=True)
class AlertNotice:
    """What a sink is told: the alert as it now stands and why it changed."""

    alert_id: int
    change: str  # raised | grouped | resolved | updated | escalated
    group_key: str
    count: int
    summary: str
    event_ids: tuple[int, ...]
    channel: str | None = None


class AlertSink(Protocol):
    def notify(self, notice: AlertNotice) -> None: ...


def group_key_for(event: EventRow) -> str:
    """One cause: the target system and error class of a failed write; for a record that
    could not be planned, its flow and the kind (``mapping``, ``internal``)."""
    if event.last_error_kind in UNPLANNED_KINDS:
        return f"flow:{event.flow}:{event.last_error_kind}"
    return f"{event.target_system}:{event.last_error_kind or 'error'}"


def group_summary(key: str, count: int) -> str:
    scope, _, kind = key.rpartition(":")
    if scope.startswith("flow:"):
        return f"{count} records of flow {scope[len('flow:') :]} could not be planned: {kind}"
    return f"{count} events to {scope} failed with {kind}"


def describe(event: EventRow) -> str:
    if event.last_error_kind in UNPLANNED_KINDS:
        return (
            f"event {event.id} {event.flow}: {event.source} record {event.source_external_id}"
            f" ({event.canonical_id or 'canonical ID unknown'}) could not be planned for "
            f"{event.target}: {event.last_error_kind}: {event.last_error_message}"
        )
    return (
        f"event {event.id} {event.flow}: {event.source} → {event.target} for "
        f"{event.canonical_id} died after {event.attempts} attempt(s): "
        f"{event.last_error_kind}: {event.last_error_message}"
    )


def record_dead_event(
    uow: UnitOfWork,
    event: EventRow,
    *,
    now: datetime,
    settings: AlertSettings,
) -> AlertNotice:
    """Open an alert for a dead event, or add it to the open alert of the same cause (within
    the map's group window; grouped once the map's threshold is reached)."""
    channel = settings.channel
    key = group_key_for(event)
    covering = uow.alerts.for_event(event.id)
    if covering is not None and covering.state in (AlertState.OPEN, AlertState.ACKNOWLEDGED):
        # The same event died again after a Retry: its alert is updated, not counted twice.
        covering.updated_at = now
        if not covering.grouped:
            covering.summary = describe(event)
        return AlertNotice(
            covering.id,
            "updated",
            covering.group_key,
            covering.count,
            covering.summary,
            tuple(uow.alerts.event_ids(covering.id)),
            channel,
        )
    existing = uow.alerts.open_group(key)
    if existing is not None and now - existing.created_at <= settings.group_window:
        existing.count += 1
        existing.updated_at = now
        uow.alerts.attach(existing.id, event.id)
        grouped = existing.count >= settings.group_threshold
        existing.grouped = existing.grouped or grouped
        existing.summary = group_summary(key, existing.count)
        ids = (*uow.alerts.event_ids(existing.id), event.id)
        return AlertNotice(
            existing.id,
            "grouped",
            key,
            existing.count,
            existing.summary,
            tuple(sorted(set(ids))),
            channel,
        )
    alert = AlertRow(
        event_id=event.id,
        group_key=key,
        grouped=False,
        count=1,
        state=AlertState.OPEN,
        channel=channel,
        summary=describe(event),
        created_at=now,
        updated_at=now,
    )
    uow.alerts.add(alert)
    uow.flush()
    uow.alerts.attach(alert.id, event.id)
    return AlertNotice(alert.id, "raised", key, 1, alert.summary, (event.id,), channel)


def record_poll_failure(
    uow: UnitOfWork, *, source: str, kind: str, message: str, now: datetime, channel: str | None
) -> AlertNotice:
    """A source that cannot be read (schema changed, auth gone) alerts with no event."""
    key = f"poll:{source}:{kind}"
    summary = redact_text(f"reading {source} failed: {kind}: {message}")
    return _eventless_alert(uow, key=key, summary=summary, now=now, channel=channel)


def record_lost_edits(
    uow: UnitOfWork, *, key: str, summary: str, now: datetime, channel: str | None
) -> AlertNotice:
    """Edits a two-way flow's conflict rule overwrote: one alert per ``key`` (a flow, or a
    flow's daily digest) while it is open, its count and summary updated as more are lost.
    It holds no event: a lost edit has nothing to retry."""
    return _eventless_alert(uow, key=key, summary=summary, now=now, channel=channel)


def record_probable_duplicate(
    uow: UnitOfWork, *, key: str, summary: str, now: datetime, channel: str | None
) -> AlertNotice:
    """A record typed by hand after cutover that probably duplicates a known customer: one
    alert per record (``key``), settled by a person (see ``settle_alert``). It holds no event."""
    return _eventless_alert(uow, key=key, summary=summary, now=now, channel=channel, counting=False)


def record_golive_held(
    uow: UnitOfWork, *, key: str, summary: str, now: datetime, channel: str | None
) -> AlertNotice | None:
    """A phase declared live that its first start held in its parallel period (probable
    matches to review, or a target it could not read): one alert per phase (``key``). An
    open one is updated when its summary changed; ``None`` when it already says this (another
    process raised it, or the target is still unreadable for the same reason)."""
    existing = uow.alerts.open_group(key)
    if existing is not None:
        if existing.summary == summary:
            return None
        existing.summary = summary
        existing.updated_at = now
        return AlertNotice(existing.id, "updated", key, existing.count, summary, (), channel)
    return _eventless_alert(uow, key=key, summary=summary, now=now, channel=channel, counting=False)


def _eventless_alert(
    uow: UnitOfWork,
    *,
    key: str,
    summary: str,
    now: datetime,
    channel: str | None,
    counting: bool = True,
) -> AlertNotice:
    """Raise the open alert of ``key``, or update it when one is open (its count and summary
    moved on when ``counting``): an alert that holds no event to retry."""
    existing = uow.alerts.open_group(key)
    if existing is not None:
        if counting:
            existing.count += 1
            existing.updated_at = now
            existing.summary = summary
        return AlertNotice(existing.id, "updated", key, existing.count, summary, (), channel)
    alert = AlertRow(
        event_id=None,
        group_key=key,
        grouped=False,
        count=1,
        state=AlertState.OPEN,
        channel=channel,
        summary=summary,
        created_at=now,
        updated_at=now,
    )
    uow.alerts.add(alert)
    uow.flush()
    return AlertNotice(alert.id, "raised", key, 1, summary, (), channel)


def settle_alert(
    uow: UnitOfWork, alert: AlertRow, *, state: str, outcome: str, now: datetime
) -> AlertNotice:
    """Close an alert a person settled, its outcome added to what it says (the message is
    then updated in place)."""
    alert.state = state
    alert.summary = f"{alert.summary}\n{outcome}"
    alert.updated_at = now
    if state == AlertState.RESOLVED:
        alert.resolved_at = now
    return AlertNotice(
        alert.id, "updated", alert.group_key, alert.count, alert.summary, (), alert.channel
    )


def resolve_poll_failures(uow: UnitOfWork, *, source: str, now: datetime) -> list[AlertNotice]:
    """A source that reads again closes the alerts that said it could not be read."""
    notices = []
    for alert in uow.alerts.open_alerts():
        if alert.event_id is None and alert.group_key.startswith(f"poll:{source}:"):
            alert.state = AlertState.RESOLVED
            alert.resolved_at = now
            alert.updated_at = now
            notices.append(
                AlertNotice(
                    alert.id,
                    "resolved",
                    alert.group_key,
                    alert.count,
                    f"{source} reads again",
                    (),
                    alert.channel,
                )
            )
    return notices


class CollectingSink:
    """Keeps notices in memory (tests, and the console twin's feed)."""

    def __init__(self) -> None:
        self.notices: list[AlertNotice] = []

    def notify(self, notice: AlertNotice) -> None:
        self.notices.append(notice)
