"""The App Home dashboard: phases, flows, open alerts."""

from __future__ import annotations

from dataclasses import dataclass

from bot.handlers.context import HandlerContext
from sync_core.alert_detail import AlertDetail, detail_of
from sync_core.rollout import FlowStatus, PhaseStatus, flow_status, phase_status

SHOWN_ALERTS = 10


@dataclass(frozen=True)
class HomeView:
    map_name: str
    phases: list[PhaseStatus]
    flows: list[FlowStatus]
    alerts: list[AlertDetail]
    open_alerts: int


def home(ctx: HandlerContext) -> HomeView:
    now = ctx.clock.now()
    with ctx.uow_factory() as uow:
        open_alerts = list(uow.alerts.open_alerts())
        # Newest first: the ones people have not seen yet matter most.
        shown = [detail_of(uow, a) for a in reversed(open_alerts[-SHOWN_ALERTS:])]
        return HomeView(
            map_name=ctx.map.name,
            phases=phase_status(uow, ctx.map, now),
            flows=flow_status(uow, ctx.map, now),
            alerts=shown,
            open_alerts=len(open_alerts),
        )
