"""The alert buttons: Retry (and Retry all), Ignore with a reason, History."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.handlers.audit import AuditView, history
from bot.handlers.context import Actor, HandlerContext
from bot.handlers.guard import refuse_unless_operator
from bot.handlers.results import Notice
from sync_core import operations
from sync_core.alert_detail import AlertDetail, alert_detail
from sync_core.ports import UnitOfWork
from sync_core.store.models import EventStatus


@dataclass(frozen=True)
class Outcome:
    """What the last click did, shown under the alert."""

    kind: str  # delivered | failed | ignored | nothing
    actor: Actor
    at: datetime
    detail: str = ""


@dataclass(frozen=True)
class AlertView:
    detail: AlertDetail
    outcome: Outcome | None = None
    mention: str | None = None


def _detail(ctx: HandlerContext, alert_id: int) -> AlertDetail:
    with ctx.uow_factory() as uow:
        found = alert_detail(uow, alert_id)
    if found is None:
        raise LookupError(f"no alert {alert_id}")
    return found


def show_alert(ctx: HandlerContext, alert_id: int) -> AlertView:
    return AlertView(_detail(ctx, alert_id))


def retry_alert(ctx: HandlerContext, alert_id: int) -> AlertView | Notice:
    """Requeue the alert's events, deliver them now, and say how it went."""
    refused = refuse_unless_operator(ctx, "retry_alert", f"alert:{alert_id}")
    if refused is not None:
        return refused
    try:
        with ctx.uow_factory() as uow:
            requeued = operations.retry_alert(
                uow,
                alert_id,
                actor=ctx.actor.label,
                now=ctx.clock.now(),
                integration_map=ctx.map,
            )
            uow.commit()
    except operations.AlertClosed as closed:
        return _stale(closed)
    if requeued:
        ctx.engine.deliver_due(limit=max(100, len(requeued)))
    now = ctx.clock.now()
    with ctx.uow_factory() as uow:
        settled = operations.settle_alert(uow, alert_id, now=now)
        errors = [
            f"{event.last_error_kind}: {event.last_error_message}"
            for event_id, status in settled.statuses.items()
            if status != EventStatus.DELIVERED.value and (event := uow.events.get(event_id))
        ]
        delivered = sum(1 for s in settled.statuses.values() if s == EventStatus.DELIVERED.value)
        if not requeued and not errors:
            outcome = Outcome("nothing", ctx.actor, now, "nothing left to retry")
        elif settled.recovered:
            outcome = Outcome("delivered", ctx.actor, now, f"{delivered} event(s) delivered")
        else:
            outcome = Outcome(
                "failed", ctx.actor, now, errors[0] if errors else "not delivered yet"
            )
        _record(uow, alert_id, outcome)
        uow.commit()
    return AlertView(_detail(ctx, alert_id), outcome)


def ignore_alert(ctx: HandlerContext, alert_id: int, reason: str) -> AlertView | Notice:
    """Close the alert without delivering, with the reason given."""
    refused = refuse_unless_operator(ctx, "ignore_alert", f"alert:{alert_id}")
    if refused is not None:
        return refused
    now = ctx.clock.now()
    try:
        with ctx.uow_factory() as uow:
            ignored = operations.ignore_alert(
                uow, alert_id, actor=ctx.actor.label, reason=reason, now=now
            )
            outcome = Outcome(
                "ignored", ctx.actor, now, f"{len(ignored)} event(s) ignored: {reason}"
            )
            _record(uow, alert_id, outcome)
            uow.commit()
    except operations.AlertClosed as closed:
        return _stale(closed)
    return AlertView(_detail(ctx, alert_id), outcome)


def may_change_alert(ctx: HandlerContext, alert_id: int) -> Notice | None:
    """Before the Ignore modal opens: None when the click may go on, else why not."""
    refused = refuse_unless_operator(ctx, "ignore_alert", f"alert:{alert_id}")
    if refused is not None:
        return refused
    detail = _detail(ctx, alert_id)
    if detail.state not in ("open", "acknowledged"):
        return _stale(operations.AlertClosed(alert_id, detail.state))
    return None


def _stale(closed: operations.AlertClosed) -> Notice:
    return Notice(f"Alert {closed.alert_id} is already {closed.state}; nothing changed.", ok=False)


def _record(uow: UnitOfWork, alert_id: int, outcome: Outcome) -> None:
    operations.record_outcome(
        uow,
        alert_id,
        actor=outcome.actor.label,
        kind=outcome.kind,
        text=outcome.detail,
        now=outcome.at,
    )


def alert_history(ctx: HandlerContext, alert_id: int) -> AuditView:
    """The history of the alert's (first) customer; the click is logged."""
    found = _detail(ctx, alert_id)
    with ctx.uow_factory() as uow:
        operations.record_action(
            uow,
            actor=ctx.actor.label,
            action="history",
            subject=f"alert:{alert_id}",
            now=ctx.clock.now(),
        )
        uow.commit()
    canonical = found.events[0].canonical_id if found.events else ""
    return history(ctx, canonical)


def retry_failed_for(ctx: HandlerContext, canonical_id: str) -> Notice:
    """The /where button: requeue this customer's failed events and deliver them now."""
    from sync_core.requeue import requeue

    now = ctx.clock.now()
    with ctx.uow_factory() as uow:
        failed = [
            e.id
            for e in uow.events.history(canonical_ids=[canonical_id], limit=500, targets=True)
            if e.status in operations.FAILED_STATUSES
        ]
        requeued = [
            i
            for i in failed
            if requeue(uow, i, now=now, actor=ctx.actor.label, integration_map=ctx.map)
        ]
        uow.commit()
    if not requeued:
        return Notice(f"{canonical_id}: no failed events to retry.")
    ctx.engine.deliver_due(limit=max(100, len(requeued)))
    with ctx.uow_factory() as uow:
        statuses = [e.status for i in requeued if (e := uow.events.get(i))]
    done = statuses.count(EventStatus.DELIVERED.value)
    return Notice(
        f"{canonical_id}: retried {len(requeued)} event(s); {done} delivered, "
        f"{len(requeued) - done} still failing.",
        ok=done == len(requeued),
    )
