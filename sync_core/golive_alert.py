"""The alert of a phase declared live that its first start held back, and how it closes.

It is raised by the first start (see ``sync_core.golive``) and resolved, audited and redrawn
in place, when the phase is promoted, when the review it waited for is done (nothing left
for a person in its targets: it is ready to promote), or when a phase that waited for an
unreadable target starts live after all.
"""

from __future__ import annotations

from datetime import datetime

from sync_core.alert_outbox import OutboxKind, enqueue_at
from sync_core.alerts import AlertNotice, AlertState, settle_alert
from sync_core.operations import record_action
from sync_core.ports import UnitOfWork

GOLIVE_KEY = "golive:phase:"  # the alert of a phase held in parallel at first start


def golive_key(phase_id: int) -> str:
    return f"{GOLIVE_KEY}{phase_id}"


def held_phases(uow: UnitOfWork) -> dict[int, int]:
    """Phase -> its open first-start alert."""
    found: dict[int, int] = {}
    for alert in uow.alerts.open_alerts():
        suffix = alert.group_key.removeprefix(GOLIVE_KEY)
        if alert.event_id is None and suffix != alert.group_key and suffix.isdigit():
            found[int(suffix)] = alert.id
    return found


def resolve_golive_alert(
    uow: UnitOfWork, phase_id: int, *, actor: str, outcome: str, now: datetime
) -> AlertNotice | None:
    """Resolve the phase's open first-start alert, ``outcome`` added to what it says: audited,
    and its message redrawn in place (an outbox row in this transaction). ``None`` when no
    such alert is open. The caller commits."""
    alert = uow.alerts.open_group(golive_key(phase_id))
    if alert is None:
        return None
    notice = settle_alert(uow, alert, state=AlertState.RESOLVED, outcome=outcome, now=now)
    record_action(
        uow,
        actor=actor,
        action="resolve_alert",
        subject=f"alert:{alert.id}",
        now=now,
        reason=outcome,
        detail={"phase": phase_id},
    )
    enqueue_at(uow, alert.id, OutboxKind.UPDATE, now)
    return notice
