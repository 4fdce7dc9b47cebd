"""``/phase``: how the rollout stands, and promotion or rollback by an admin with a reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.handlers.context import Actor, HandlerContext
from bot.handlers.guard import refuse_unless_admin
from bot.handlers.results import Notice
from sync_core.map.model import PhaseState
from sync_core.phases import ORDER, Gate, PhaseChange, PhaseError, check_gates, promote, rollback
from sync_core.rollout import PhaseStatus, phase_status

ACTIONS = ("promote", "rollback")
USAGE = "Use `/phase status`, `/phase promote N` or `/phase rollback N`."


@dataclass(frozen=True)
class PhaseStatusView:
    phases: list[PhaseStatus]


@dataclass(frozen=True)
class PhaseConfirm:
    """Asks an admin for a reason (and, when a gate fails, whether to override it)."""

    action: str
    phase_id: int
    phase_name: str
    from_state: str
    to_state: str
    gates: list[Gate] = field(default_factory=list)

    @property
    def failed_gates(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]


@dataclass(frozen=True)
class PhaseChanged:
    change: PhaseChange
    phase_name: str
    actor: Actor


def phase_command(ctx: HandlerContext, text: str) -> PhaseStatusView | PhaseConfirm | Notice:
    """`/phase status` · `/phase promote N` · `/phase rollback N` — the rollout; promote and
    rollback are for admins and ask for a reason."""
    words = text.split()
    if not words or words[0] == "status":
        with ctx.uow_factory() as uow:
            return PhaseStatusView(phase_status(uow, ctx.map, ctx.clock.now()))
    action = words[0].lower()
    if action not in ACTIONS or len(words) != 2 or not words[1].isdigit():
        return Notice(USAGE, ok=False)
    phase_id = int(words[1])
    refused = refuse_unless_admin(ctx, action, f"phase:{phase_id}")
    if refused is not None:
        return refused
    return confirm(ctx, action, phase_id)


def confirm(ctx: HandlerContext, action: str, phase_id: int) -> PhaseConfirm | Notice:
    try:
        phase = ctx.map.phase(phase_id)
    except KeyError:
        known = ", ".join(str(p.id) for p in ctx.map.phases)
        return Notice(f"There is no phase {phase_id} (phases: {known}).", ok=False)
    with ctx.uow_factory() as uow:
        row = uow.phases.get(phase_id)
        current = PhaseState(row.state if row else phase.state.value)
        step = 1 if action == "promote" else -1
        index = ORDER.index(current) + step
        if not 0 <= index < len(ORDER):
            edge = "live already" if step > 0 else "planned already"
            return Notice(f"Phase {phase_id} is {edge}.", ok=False)
        target = ORDER[index]
        gates = (
            check_gates(uow, ctx.map, phase_id, ctx.clock.now())
            if target == PhaseState.LIVE
            else []
        )
    return PhaseConfirm(action, phase_id, phase.name, current.value, target.value, gates)


def change_phase(
    ctx: HandlerContext, action: str, phase_id: int, reason: str, *, override: bool = False
) -> PhaseChanged | Notice:
    """Promote or roll back after confirmation. A failed gate is named unless overridden."""
    refused = refuse_unless_admin(ctx, action, f"phase:{phase_id}")
    if refused is not None:
        return refused
    if not reason.strip():
        return Notice("A phase change needs a reason.", ok=False)
    now = ctx.clock.now()
    with ctx.uow_factory() as uow:
        try:
            if action == "promote":
                change = promote(
                    uow,
                    ctx.map,
                    phase_id,
                    actor=ctx.actor.label,
                    reason=reason,
                    now=now,
                    override=override,
                )
            else:
                change = rollback(
                    uow, ctx.map, phase_id, actor=ctx.actor.label, reason=reason, now=now
                )
        except PhaseError as exc:
            return Notice(f"Phase {phase_id} not changed: {exc}", ok=False)
        uow.commit()
    return PhaseChanged(change, ctx.map.phase(phase_id).name, ctx.actor)
