"""Phases: each flow takes its mode from its phase (planned, parallel, live).

A phase moves planned → parallel → live by promotion and back by rollback. Promotion to live
(the cutover) checks its gates — the parallel period has lasted ``parallel_days`` and the
phase's flows have no dead events — and delivers what the parallel period planned: the newest
shadow write of each record becomes a live event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync_core.alerts import AlertNotice
from sync_core.golive_alert import held_phases, resolve_golive_alert
from sync_core.map.model import Flow, IntegrationMap, PhaseState
from sync_core.ports import UnitOfWork
from sync_core.requeue import pending_copy
from sync_core.store.models import EventStatus, PhaseChangeRow, PhaseRow

ORDER = (PhaseState.PLANNED, PhaseState.PARALLEL, PhaseState.LIVE)
HELD_AT_START = "declared live in the map; held in parallel"
READY = "review done: ready to promote"


class PhaseError(ValueError):
    """A phase change that cannot happen (unknown phase, already live, gate failed)."""


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    detail: str


@dataclass
class PhaseChange:
    phase_id: int
    from_state: str
    to_state: str
    actor: str
    reason: str
    gates: list[Gate] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)
    backfilled_events: int = 0
    # the hand process this cutover ends, said out loud so nobody keeps doing it
    manual_step_retired: str | None = None


def ensure_phases(
    uow: UnitOfWork,
    integration_map: IntegrationMap,
    now: datetime,
    *,
    reconciled: Mapping[int, Gate] | None = None,
) -> list[int]:
    """Create a row for each phase of the map not yet in the store, in its initial state.

    A phase declared live gets its row only with the go-live gate its first start evaluated
    after reconciling its targets (``reconciled``, see ``sync_core.golive``): the gate failed,
    it starts in its parallel period instead, with the reason in its history. Declaring a
    phase live in the map must not skip the gate a promotion would meet, nor meet it before
    the targets' existing copies were matched. Returns the phases left without a row,
    waiting for that reconciliation."""
    waiting: list[int] = []
    for phase in integration_map.phases:
        if uow.phases.get(phase.id) is not None:
            continue
        state = phase.state
        held: Gate | None = None
        if state == PhaseState.LIVE:
            gate = (reconciled or {}).get(phase.id)
            if gate is None:
                waiting.append(phase.id)
                continue
            if not gate.passed:
                state, held = PhaseState.PARALLEL, gate
        inserted = uow.phases.add(
            PhaseRow(
                id=phase.id,
                name=phase.name,
                state=state.value,
                state_since=now,
                parallel_started_at=now if state == PhaseState.PARALLEL else None,
                updated_at=now,
            )
        )
        if held is not None and inserted:  # the process whose row stands tells its history
            uow.flush()
            uow.phases.add_change(
                PhaseChangeRow(
                    phase_id=phase.id,
                    from_state=PhaseState.PLANNED.value,
                    to_state=PhaseState.PARALLEL.value,
                    actor="handoff",
                    reason=f"{HELD_AT_START}: {held.detail}",
                    gates_overridden=None,
                    at=now,
                )
            )
    return waiting


def phase_states(uow: UnitOfWork) -> dict[int, PhaseState]:
    return {row.id: PhaseState(row.state) for row in uow.phases.all()}


def flow_mode(flow: Flow, states: dict[int, PhaseState]) -> PhaseState:
    return states.get(flow.phase, PhaseState.PLANNED)


def flows_of(integration_map: IntegrationMap, phase_id: int) -> list[Flow]:
    """The phase's flows as the engine runs them (a two-way flow as its two legs)."""
    from sync_core.twoway import directed_flows

    return [flow for flow in directed_flows(integration_map)[0] if flow.phase == phase_id]


def dead_events(uow: UnitOfWork, flows: Sequence[Flow]) -> int:
    names = [flow.name for flow in flows]
    if not names:
        return 0
    return uow.events.count_by_status(flows=names).get(EventStatus.DEAD.value, 0)


def check_gates(
    uow: UnitOfWork, integration_map: IntegrationMap, phase_id: int, now: datetime
) -> list[Gate]:
    """The gates a promotion to live must pass."""
    phase = integration_map.phase(phase_id)
    row = uow.phases.get(phase_id)
    gates: list[Gate] = []
    started = row.parallel_started_at if row else None
    if _held_at_start(uow, integration_map, phase_id):
        # the map asked for no parallel period: only what held it at first start is checked
        gates.append(Gate("parallel_period", True, "declared live in the map: no parallel period"))
    elif started is None:
        gates.append(Gate("parallel_period", False, "the phase has not run in parallel yet"))
    else:
        lasted = now - started
        needed = timedelta(days=phase.parallel_days)
        gates.append(
            Gate(
                "parallel_period",
                lasted >= needed,
                f"parallel for {lasted.days} of {phase.parallel_days} days",
            )
        )
    dead = dead_events(uow, flows_of(integration_map, phase_id))
    gates.append(Gate("no_dead_events", dead == 0, f"{dead} dead event(s) in this phase's flows"))
    gates.append(unreviewed_matches_gate(uow, integration_map, phase_id))
    return gates


def _held_at_start(uow: UnitOfWork, integration_map: IntegrationMap, phase_id: int) -> bool:
    """The phase is declared live in the map and has been in parallel only because its first
    start held it there (no promotion or rollback since)."""
    if integration_map.phase(phase_id).state != PhaseState.LIVE:
        return False
    changes = list(uow.phases.changes(phase_id))
    return len(changes) == 1 and changes[0].reason.startswith(HELD_AT_START)


def unreviewed_matches_gate(
    uow: UnitOfWork, integration_map: IntegrationMap, phase_id: int
) -> Gate:
    """Going live must not multiply customers: the phase's targets may hold no probable match
    of a source record that is neither linked (applied) nor rejected."""
    targets: list[tuple[str, str]] = []
    for flow in flows_of(integration_map, phase_id):
        if flow.target is not None and (flow.target.system, flow.target.record_type) not in targets:
            targets.append((flow.target.system, flow.target.record_type))
    pending = uow.matches.pending_in(targets)
    if not pending:
        return Gate("no_unreviewed_matches", True, "no unreviewed probable matches in its targets")
    per_ref: dict[str, int] = {}
    entities: list[str] = []
    for row in pending:
        per_ref[row.ref] = per_ref.get(row.ref, 0) + 1
        if row.entity not in entities:
            entities.append(row.entity)
    where = ", ".join(f"{ref} ({count})" for ref, count in per_ref.items())
    accepted = sum(1 for row in pending if row.status == "accepted")
    how = "review with `handoff match review`"
    if accepted:
        how += f", then `handoff match apply` ({accepted} accepted, not applied yet)"
    return Gate(
        "no_unreviewed_matches",
        False,
        f"{len(pending)} probable match(es) neither linked nor rejected in {where} "
        f"({', '.join(entities)}): {how}",
    )


def promote(
    uow: UnitOfWork,
    integration_map: IntegrationMap,
    phase_id: int,
    *,
    actor: str,
    reason: str,
    now: datetime,
    override: bool = False,
) -> PhaseChange:
    """Move a phase one step towards live. Gate failures raise unless ``override``."""
    row = _row(uow, integration_map, phase_id, now)
    current = PhaseState(row.state)
    if current == PhaseState.LIVE:
        raise PhaseError(f"phase {phase_id} is already live")
    target = ORDER[ORDER.index(current) + 1]
    change = PhaseChange(phase_id, current.value, target.value, actor, reason)
    if target == PhaseState.LIVE:
        change.gates = check_gates(uow, integration_map, phase_id, now)
        failed = [gate for gate in change.gates if not gate.passed]
        if failed and not override:
            raise PhaseError("gate failed: " + "; ".join(f"{g.name} ({g.detail})" for g in failed))
        change.overridden = [gate.name for gate in failed]
    _apply(uow, row, change, now)
    if target == PhaseState.PARALLEL:
        row.parallel_started_at = now
    if target == PhaseState.LIVE:
        change.backfilled_events = _deliver_shadow_writes(uow, integration_map, phase_id, now)
        change.manual_step_retired = integration_map.phase(phase_id).manual_step
        overridden = ", ".join(change.overridden)
        overridden = f" (gates overridden: {overridden})" if overridden else ""
        resolve_golive_alert(
            uow,
            phase_id,
            actor=actor,
            outcome=f"Promoted to live by {actor}{overridden}: {reason}",
            now=now,
        )
    return change


def review_status(uow: UnitOfWork, integration_map: IntegrationMap, phase_id: int) -> str | None:
    """For a phase in parallel only because its first start held it there: what its review
    still waits for, or :data:`READY` once its targets hold no probable match left for a
    person. ``None`` for any other phase."""
    row = uow.phases.get(phase_id)
    if row is None or row.state != PhaseState.PARALLEL.value:
        return None
    if not _held_at_start(uow, integration_map, phase_id):
        return None
    gate = unreviewed_matches_gate(uow, integration_map, phase_id)
    return READY if gate.passed else f"held for review: {gate.detail}"


def review_done(uow: UnitOfWork, integration_map: IntegrationMap, phase_id: int) -> bool:
    return review_status(uow, integration_map, phase_id) == READY


def settle_review(
    uow: UnitOfWork, integration_map: IntegrationMap, *, actor: str, now: datetime
) -> list[AlertNotice]:
    """After a decision or a link: the first-start alert of each phase whose review is now
    done is resolved (audited, redrawn), saying it is ready to promote. The caller commits."""
    known = {phase.id for phase in integration_map.phases}
    notices = []
    for phase_id in held_phases(uow):
        if phase_id not in known or not review_done(uow, integration_map, phase_id):
            continue
        notice = resolve_golive_alert(
            uow,
            phase_id,
            actor=actor,
            outcome=(
                f"Review done (last decision by {actor}): no probable match left in its "
                f"targets. Ready to promote: `handoff phase promote {phase_id}` or "
                f"`/phase promote {phase_id}`."
            ),
            now=now,
        )
        if notice is not None:
            notices.append(notice)
    return notices


def rollback(
    uow: UnitOfWork,
    integration_map: IntegrationMap,
    phase_id: int,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> PhaseChange:
    """Move a phase one step back (live → parallel → planned)."""
    row = _row(uow, integration_map, phase_id, now)
    current = PhaseState(row.state)
    if current == PhaseState.PLANNED:
        raise PhaseError(f"phase {phase_id} is planned already; nothing to roll back")
    target = ORDER[ORDER.index(current) - 1]
    change = PhaseChange(phase_id, current.value, target.value, actor, reason)
    _apply(uow, row, change, now)
    if target == PhaseState.PARALLEL:
        row.parallel_started_at = now
    return change


def _row(
    uow: UnitOfWork, integration_map: IntegrationMap, phase_id: int, now: datetime
) -> PhaseRow:
    try:
        integration_map.phase(phase_id)
    except KeyError:
        known = ", ".join(str(p.id) for p in integration_map.phases)
        raise PhaseError(f"no phase {phase_id} in the map (phases: {known})") from None
    ensure_phases(uow, integration_map, now)
    row = uow.phases.get(phase_id)
    if row is None:
        raise PhaseError(
            f"phase {phase_id} is declared live in the map and has not started yet: its "
            "first start (`handoff run`, `sync` or `serve`) reconciles its targets, then "
            "starts it live or holds it in its parallel period"
        )
    return row


def _apply(uow: UnitOfWork, row: PhaseRow, change: PhaseChange, now: datetime) -> None:
    row.state = change.to_state
    row.state_since = now
    row.updated_at = now
    uow.phases.add_change(
        PhaseChangeRow(
            phase_id=row.id,
            from_state=change.from_state,
            to_state=change.to_state,
            actor=change.actor,
            reason=change.reason,
            gates_overridden=",".join(change.overridden) or None,
            at=now,
        )
    )


def _deliver_shadow_writes(
    uow: UnitOfWork, integration_map: IntegrationMap, phase_id: int, now: datetime
) -> int:
    """At cutover, the newest shadow event of each (flow, record) becomes a live event."""
    created = 0
    for flow in flows_of(integration_map, phase_id):
        seen: set[str] = set()
        for event in uow.events.history(
            flows=[flow.name], status=EventStatus.SHADOW.value, limit=100_000
        ):
            if event.canonical_id in seen:
                continue
            seen.add(event.canonical_id)
            latest = uow.events.latest_for(flow.name, event.canonical_id)
            if latest is not None and latest.id != event.id:
                continue  # something newer already exists
            uow.events.add(pending_copy(event, now, mode=PhaseState.LIVE.value))
            created += 1
    return created
