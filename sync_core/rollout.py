"""Read models for how the rollout and the flows stand: ``/phase status``, ``/sync status``
and the App Home dashboard render these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync_core.map.model import IntegrationMap, PhaseState
from sync_core.operations import flow_names
from sync_core.phases import flows_of, review_status
from sync_core.ports import UnitOfWork
from sync_core.store.models import EventStatus


@dataclass(frozen=True)
class PhaseStatus:
    id: int
    name: str
    state: str
    flows: list[str]
    parallel_days: int
    days_in_parallel: int | None  # None unless the phase is in its parallel period
    failures_7d: int
    manual_step: str | None
    since: datetime | None
    # how the parallel period's shadow writes compared with the hand-made records
    comparison: dict[str, int] = field(default_factory=dict)
    # a phase its first start held in parallel: what its review waits for, or that it is
    # ready to promote (nobody has yet)
    review: str | None = None


@dataclass(frozen=True)
class FlowStatus:
    name: str
    phase: int
    paused: bool
    paused_by: str | None
    last_run_at: datetime | None
    last_run_outcome: str | None
    backlog: int
    failures_24h: int


def _dead_since(uow: UnitOfWork, flows: list[str], since: datetime) -> int:
    if not flows:
        return 0
    counts = uow.events.count_by_status(flows=flow_names(flows), since=since)
    return counts.get(EventStatus.DEAD.value, 0)


def phase_status(
    uow: UnitOfWork, integration_map: IntegrationMap, now: datetime
) -> list[PhaseStatus]:
    """Each phase with its state, flows, days in parallel and failures in the last 7 days."""
    rows = {row.id: row for row in uow.phases.all()}
    result = []
    for phase in integration_map.phases:
        row = rows.get(phase.id)
        state = row.state if row else phase.state.value
        flows = [flow.name for flow in flows_of(integration_map, phase.id)]
        days = None
        if row is not None and state == PhaseState.PARALLEL and row.parallel_started_at:
            days = (now - row.parallel_started_at).days
        result.append(
            PhaseStatus(
                id=phase.id,
                name=phase.name,
                state=state,
                flows=flows,
                parallel_days=phase.parallel_days,
                days_in_parallel=days,
                failures_7d=_dead_since(uow, flows, now - timedelta(days=7)),
                manual_step=phase.manual_step,
                since=row.state_since if row else None,
                comparison=dict(uow.shadow_writes.outcomes(flows)) if flows else {},
                review=review_status(uow, integration_map, phase.id),
            )
        )
    return result


def flow_status(
    uow: UnitOfWork, integration_map: IntegrationMap, now: datetime
) -> list[FlowStatus]:
    """Each flow's pause state, last run, backlog (waiting events) and failures in 24 h."""
    states = {row.flow: row for row in uow.flow_states.all()}
    result = []
    for flow in integration_map.flows:
        row = states.get(flow.name)
        counts = uow.events.count_by_status(flows=flow_names([flow.name]))
        backlog = counts.get(EventStatus.PENDING.value, 0) + counts.get(
            EventStatus.RETRYING.value, 0
        )
        result.append(
            FlowStatus(
                name=flow.name,
                phase=flow.phase,
                paused=bool(row and row.paused),
                paused_by=row.paused_by if row else None,
                last_run_at=row.last_run_at if row else None,
                last_run_outcome=row.last_run_outcome if row else None,
                backlog=backlog,
                failures_24h=_dead_since(uow, [flow.name], now - timedelta(hours=24)),
            )
        )
    return result
