"""Alert messages as an outbox: a change to an alert's Slack message is a row in the store.

The engine and the handlers only write rows (:func:`enqueue`, :class:`OutboxSink`); one
sender on the leader process sends them (``bot.slack.alert_sender``). A redraw draws the
alert as it stands when it is sent, so a change joins any redraw of its alert still waiting:
a group of hundreds of failures becomes a handful of updates.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.clock import Clock
from sync_core.alerts import AlertNotice
from sync_core.ports import UnitOfWork, UnitOfWorkFactory
from sync_core.store.models import AlertOutboxRow


class OutboxKind:
    POST = "post"  # the first message (a redraw of an alert with no message posts it)
    UPDATE = "update"  # redraw the message in place
    ESCALATE = "escalate"  # re-raise in the message's thread with the map's mention


REDRAWS = (OutboxKind.POST, OutboxKind.UPDATE)

# How long a growing group's redraw waits to gather more changes before it is sent.
GROUP_REDRAW_AFTER = timedelta(seconds=5)

_KIND_OF_CHANGE = {"raised": OutboxKind.POST, "escalated": OutboxKind.ESCALATE}


def enqueue(
    uow: UnitOfWork,
    alert_id: int,
    kind: str,
    clock: Clock,
    *,
    after: timedelta = timedelta(0),
) -> bool:
    """Write a row unless a waiting redraw of the same alert already covers the change;
    ``True`` when a row was written. The caller commits."""
    return enqueue_at(uow, alert_id, kind, clock.now(), after=after)


def enqueue_at(
    uow: UnitOfWork,
    alert_id: int,
    kind: str,
    now: datetime,
    *,
    after: timedelta = timedelta(0),
) -> bool:
    """:func:`enqueue` at ``now`` (a change made in a transaction that knows its time)."""
    if kind in REDRAWS:
        waiting = [r for r in uow.alert_outbox.waiting(alert_id, now) if r.kind in REDRAWS]
        if waiting:
            # A sooner change (a click) brings the waiting redraw forward.
            first = waiting[0]
            first.due_at = min(first.due_at, now + after)
            return False
    uow.alert_outbox.add(
        AlertOutboxRow(alert_id=alert_id, kind=kind, created_at=now, due_at=now + after, attempts=0)
    )
    return True


def enqueue_unsent(uow_factory: UnitOfWorkFactory, clock: Clock) -> int:
    """Open alerts with no message and nothing waiting to post them (an outbox row lost to a
    crash between the engine's commit and the sink) get a post row: posted late, never lost."""
    with uow_factory() as uow:
        pending = uow.alert_outbox.unsent_alert_ids()
        missing = [
            a.id for a in uow.alerts.open_alerts() if not a.message_ts and a.id not in pending
        ]
        for alert_id in missing:
            enqueue(uow, alert_id, OutboxKind.POST, clock)
        uow.commit()
    return len(missing)


class OutboxSink:
    """The engine's alert sink for Slack: each notice becomes an outbox row."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        *,
        group_redraw_after: timedelta = GROUP_REDRAW_AFTER,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.group_redraw_after = group_redraw_after

    def notify(self, notice: AlertNotice) -> None:
        kind = _KIND_OF_CHANGE.get(notice.change, OutboxKind.UPDATE)
        after = self.group_redraw_after if notice.change == "grouped" else timedelta(0)
        with self.uow_factory() as uow:
            if uow.alerts.get(notice.alert_id) is None:
                return
            enqueue(uow, notice.alert_id, kind, self.clock, after=after)
            uow.commit()

    def redraw(self, alert_id: int) -> None:
        """Redraw an alert's message now (after a click, or any change the engine made)."""
        with self.uow_factory() as uow:
            enqueue(uow, alert_id, OutboxKind.UPDATE, self.clock)
            uow.commit()
