"""The daily digest of edits lost in two-way conflicts, for the flows whose map says
``report: digest``: one alert per flow and day listing each lost edit with both values and
the rule that decided. The lost edits themselves are in the audit log (see the planner)."""

from __future__ import annotations

from datetime import timedelta

from connectors.clock import Clock
from sync_core.alerts import AlertNotice, AlertSink, record_lost_edits
from sync_core.map.model import IntegrationMap
from sync_core.ports import UnitOfWorkFactory
from sync_core.twoway import LOST_EDIT_ACTION, directed_flows

PERIOD = timedelta(days=1)
SHOWN = 20  # lost edits spelled out in one digest; the rest are counted
SCANNED = 2000  # audit rows read per flow and digest


def digest_flows(integration_map: IntegrationMap) -> list[str]:
    """The two-way flows that report lost edits in the digest rather than at once."""
    _flows, legs = directed_flows(integration_map)
    return sorted({leg.flow for leg in legs.values() if leg.report == "digest"})


def send_conflict_digest(
    uow_factory: UnitOfWorkFactory,
    integration_map: IntegrationMap,
    clock: Clock,
    sink: AlertSink,
) -> list[AlertNotice]:
    """One pass: a digest alert per digest flow that lost edits in the last day; the
    notices are sent after the commit, as the engine does."""
    now = clock.now()
    notices = []
    with uow_factory() as uow:
        for flow in digest_flows(integration_map):
            lost = [
                a
                for a in uow.actions.recent(subject=f"flow:{flow}", limit=SCANNED)
                if a.action == LOST_EDIT_ACTION and a.at > now - PERIOD
            ]
            if not lost:
                continue
            lines = [f"- {a.reason}" for a in reversed(lost[:SHOWN])]
            if len(lost) > SHOWN:
                lines.append(f"- and {len(lost) - SHOWN} more (handoff audit shows them)")
            summary = f"{len(lost)} edit(s) lost in two-way conflicts of {flow} in the last day:\n"
            notices.append(
                record_lost_edits(
                    uow,
                    key=f"conflict-digest:{flow}:{now:%Y-%m-%d}",
                    summary=summary + "\n".join(lines),
                    now=now,
                    channel=integration_map.alerts.channel,
                )
            )
        uow.commit()
    for notice in notices:
        sink.notify(notice)
    return notices
