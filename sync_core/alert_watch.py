"""The periodic look at open alerts: escalate the ones nobody acknowledged in time, and say
when a group has recovered. Sinks hear about both as :class:`AlertNotice` changes."""

from __future__ import annotations

from connectors.clock import Clock
from sync_core.alerts import AlertNotice, AlertSink
from sync_core.map.model import IntegrationMap
from sync_core.operations import due_escalations, recover_alerts
from sync_core.ports import UnitOfWorkFactory
from sync_core.store.models import AlertRow


def watch_alerts(
    uow_factory: UnitOfWorkFactory, integration_map: IntegrationMap, clock: Clock, sink: AlertSink
) -> list[AlertNotice]:
    """One pass; the notices are sent after the commit, as the engine does."""
    now = clock.now()
    notices: list[AlertNotice] = []
    with uow_factory() as uow:
        for alert in recover_alerts(uow, now=now):
            notices.append(_notice(alert, "resolved", list(uow.alerts.event_ids(alert.id))))
        for alert in due_escalations(uow, integration_map, now=now):
            notices.append(_notice(alert, "escalated", list(uow.alerts.event_ids(alert.id))))
        uow.commit()
    for notice in notices:
        sink.notify(notice)
    return notices


def _notice(alert: AlertRow, change: str, event_ids: list[int]) -> AlertNotice:
    return AlertNotice(
        alert.id,
        change,
        alert.group_key,
        alert.count,
        alert.summary,
        tuple(event_ids),
        alert.channel,
    )
