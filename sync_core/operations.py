"""What people do to the running sync by hand: retry or ignore an alert's events, acknowledge
it, pause and resume a flow, and who may do the admin-only ones.

Every function works inside the caller's unit of work and writes who did what (and refusals)
to the ``actions`` table; the caller commits. Nothing here knows Slack: an actor is a string.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync_core.alerts import AlertState
from sync_core.map.model import IntegrationMap
from sync_core.ports import UnitOfWork
from sync_core.requeue import requeue
from sync_core.store.models import ActionRow, AlertRow, EventStatus, FlowStateRow

OPEN_ALERT_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
FAILED_STATUSES = (EventStatus.DEAD.value, EventStatus.RETRYING.value)


class NotAllowed(PermissionError):
    """The actor is not one of the map's admins."""


class AlertClosed(Exception):
    """A click on an alert that is already resolved or ignored (a stale or replayed click):
    nothing is changed."""

    def __init__(self, alert_id: int, state: str) -> None:
        super().__init__(f"alert {alert_id} is already {state}; nothing changed")
        self.alert_id = alert_id
        self.state = state


OUTCOME_ACTION = "alert_outcome"


def is_admin(integration_map: IntegrationMap, user_id: str, groups: Iterable[str] = ()) -> bool:
    """``user_id`` is listed in the map's admins, or belongs to a listed group (``@ops-leads``).

    ``groups`` are the handles of the groups the caller resolved for this user; an unresolved
    group grants nothing.
    """
    admins = set(integration_map.admins)
    if user_id in admins:
        return True
    return any(f"@{g.lstrip('@')}" in admins for g in groups)


def may_operate(integration_map: IntegrationMap, user_id: str, groups: Iterable[str] = ()) -> bool:
    """An admin, or one of the map's alert ``operators`` (by id or group): may press Retry
    and Ignore on an alert."""
    if is_admin(integration_map, user_id, groups):
        return True
    operators = set(integration_map.alerts.operators)
    return user_id in operators or any(f"@{g.lstrip('@')}" in operators for g in groups)


def record_action(
    uow: UnitOfWork,
    *,
    actor: str,
    action: str,
    subject: str,
    now: datetime,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
    allowed: bool = True,
) -> None:
    uow.actions.add(
        ActionRow(
            at=now,
            actor=actor,
            action=action,
            subject=subject,
            reason=reason,
            detail=detail,
            allowed=allowed,
        )
    )


def require_admin(
    uow: UnitOfWork,
    integration_map: IntegrationMap,
    *,
    user_id: str,
    groups: Iterable[str],
    actor: str,
    action: str,
    subject: str,
    now: datetime,
) -> None:
    """Raise :class:`NotAllowed` for a non-admin, after logging the refused attempt."""
    if is_admin(integration_map, user_id, groups):
        return
    record_action(uow, actor=actor, action=action, subject=subject, now=now, allowed=False)
    raise NotAllowed(f"{action} is for the map's admins ({', '.join(integration_map.admins)})")


def _alert(uow: UnitOfWork, alert_id: int) -> AlertRow:
    alert = uow.alerts.get(alert_id)
    if alert is None:
        raise LookupError(f"no alert {alert_id}")
    return alert


def _open_alert(uow: UnitOfWork, alert_id: int) -> AlertRow:
    alert = _alert(uow, alert_id)
    if alert.state not in OPEN_ALERT_STATES:
        raise AlertClosed(alert_id, alert.state)
    return alert


def acknowledge_alert(uow: UnitOfWork, alert_id: int, *, actor: str, now: datetime) -> AlertRow:
    """Someone has seen the alert: it will not be escalated."""
    alert = _alert(uow, alert_id)
    if alert.state == AlertState.OPEN:
        alert.state = AlertState.ACKNOWLEDGED
        alert.acknowledged_by = actor
        alert.updated_at = now
    return alert


def retry_alert(
    uow: UnitOfWork,
    alert_id: int,
    *,
    actor: str,
    now: datetime,
    integration_map: IntegrationMap,
) -> list[int]:
    """Requeue every failed event of the alert for delivery now (an event planning could not
    finish is planned again with ``integration_map``); returns the ids now due.

    Raises :class:`AlertClosed` when the alert is resolved or ignored: an ignored event is
    requeued only on purpose, one by one (``handoff retry``), never by a stale button."""
    alert = acknowledge_alert(uow, _open_alert(uow, alert_id).id, actor=actor, now=now)
    requeued = [
        event_id
        for event_id in uow.alerts.event_ids(alert.id)
        if (event := uow.events.get(event_id)) is not None
        and event.status in FAILED_STATUSES
        and requeue(uow, event_id, now=now, actor=actor, integration_map=integration_map)
    ]
    record_action(
        uow,
        actor=actor,
        action="retry_alert",
        subject=f"alert:{alert_id}",
        now=now,
        detail={"events": requeued},
    )
    return requeued


def ignore_alert(
    uow: UnitOfWork, alert_id: int, *, actor: str, reason: str, now: datetime
) -> list[int]:
    """Mark the alert's failed events ignored and the alert closed, with the reason.

    Raises :class:`AlertClosed` when the alert is already resolved or ignored."""
    alert = _open_alert(uow, alert_id)
    ignored: list[int] = []
    for event_id in uow.alerts.event_ids(alert.id):
        event = uow.events.get(event_id)
        if event is None or event.status not in FAILED_STATUSES:
            continue
        event.status = EventStatus.IGNORED.value
        event.next_attempt_at = None
        event.resolved_by = actor
        event.resolution_note = reason
        event.updated_at = now
        ignored.append(event_id)
    alert.state = AlertState.IGNORED
    alert.acknowledged_by = alert.acknowledged_by or actor
    alert.resolved_at = now
    alert.updated_at = now
    record_action(
        uow,
        actor=actor,
        action="ignore_alert",
        subject=f"alert:{alert_id}",
        now=now,
        reason=reason,
        detail={"events": ignored},
    )
    return ignored


def record_outcome(
    uow: UnitOfWork, alert_id: int, *, actor: str, kind: str, text: str, now: datetime
) -> None:
    """What a click did (delivered, failed again, ignored), kept so that every later redraw
    of the alert's message still shows it."""
    record_action(
        uow,
        actor=actor,
        action=OUTCOME_ACTION,
        subject=f"alert:{alert_id}",
        now=now,
        detail={"kind": kind, "text": text[:500]},
    )


@dataclass(frozen=True)
class AlertOutcome:
    alert_id: int
    statuses: dict[int, str]  # event id -> status
    recovered: bool


def settle_alert(uow: UnitOfWork, alert_id: int, *, now: datetime) -> AlertOutcome:
    """Close the alert when every one of its events has been delivered."""
    alert = _alert(uow, alert_id)
    statuses: dict[int, str] = {}
    for event_id in uow.alerts.event_ids(alert.id):
        event = uow.events.get(event_id)
        if event is not None:
            statuses[event_id] = event.status
    recovered = bool(statuses) and all(s == EventStatus.DELIVERED.value for s in statuses.values())
    if recovered and alert.state in OPEN_ALERT_STATES:
        alert.state = AlertState.RESOLVED
        alert.resolved_at = now
        alert.updated_at = now
    return AlertOutcome(alert_id, statuses, recovered)


def recover_alerts(uow: UnitOfWork, *, now: datetime) -> list[AlertRow]:
    """Open alerts whose events have all been delivered since (a vendor came back, someone
    retried from the CLI): resolve them and return them so their messages can say so."""
    recovered = []
    for alert in uow.alerts.open_alerts():
        if alert.event_id is None:
            continue  # a source that could not be read has no event to recover
        if settle_alert(uow, alert.id, now=now).recovered:
            recovered.append(alert)
    return recovered


def due_escalations(
    uow: UnitOfWork, integration_map: IntegrationMap, *, now: datetime
) -> list[AlertRow]:
    """Open alerts nobody acknowledged within the map's ``escalate_after``; each is marked
    escalated so it is raised once."""
    after = integration_map.alerts.escalate_after
    if after is None:
        return []
    due = [
        alert
        for alert in uow.alerts.open_alerts()
        if alert.state == AlertState.OPEN
        and alert.escalated_at is None
        and now - alert.created_at >= after
    ]
    for alert in due:
        alert.escalated_at = now
        alert.updated_at = now
    return due


def set_paused(
    uow: UnitOfWork,
    integration_map: IntegrationMap,
    flow: str,
    *,
    paused: bool,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> FlowStateRow:
    """Pause or resume a flow; the engine skips paused flows when it plans."""
    integration_map.flow(flow)  # KeyError for an unknown flow
    row = uow.flow_states.get(flow)
    if row is None:
        row = FlowStateRow(flow=flow, paused=paused, updated_at=now)
    row.paused = paused
    row.paused_by = actor if paused else None
    row.updated_at = now
    uow.flow_states.put(row)
    record_action(
        uow,
        actor=actor,
        action="pause" if paused else "resume",
        subject=f"flow:{flow}",
        now=now,
        reason=reason,
    )
    return row


def flow_names(flows: Sequence[str]) -> list[str]:
    """The flows plus their link-back writes (``name:link-back``), for counting events."""
    return [name for flow in flows for name in (flow, link_back_flow(flow))]


def link_back_flow(flow: str) -> str:
    """The name under which a flow's link-back writes are logged."""
    return f"{flow}:link-back"
