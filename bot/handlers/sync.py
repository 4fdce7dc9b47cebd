"""``/sync``: the flows' state, and polling, pausing or resuming one (admins)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.handlers.context import HandlerContext
from bot.handlers.guard import refuse_unless_admin
from bot.handlers.results import Notice
from bot.poll_summary import poll_line
from sync_core.operations import set_paused
from sync_core.rollout import FlowStatus, flow_status

USAGE = "Use `/sync status`, `/sync run FLOW`, `/sync pause FLOW` or `/sync resume FLOW`."


@dataclass(frozen=True)
class SyncStatusView:
    flows: list[FlowStatus]


def sync_command(ctx: HandlerContext, text: str) -> SyncStatusView | Notice:
    """`/sync status` · `/sync run FLOW` · `/sync pause FLOW` · `/sync resume FLOW` — the
    flows; run, pause and resume are for admins."""
    words = text.split()
    if not words or words[0] == "status":
        with ctx.uow_factory() as uow:
            return SyncStatusView(flow_status(uow, ctx.map, ctx.clock.now()))
    action = words[0].lower()
    if action not in ("run", "pause", "resume") or len(words) != 2:
        return Notice(USAGE, ok=False)
    flow = words[1]
    if flow not in {f.name for f in ctx.map.flows}:
        names = ", ".join(f.name for f in ctx.map.flows)
        return Notice(f"There is no flow {flow} (flows: {names}).", ok=False)
    refused = refuse_unless_admin(ctx, f"sync {action}", f"flow:{flow}")
    if refused is not None:
        return refused
    if action == "run":
        return _run(ctx, flow)
    with ctx.uow_factory() as uow:
        set_paused(
            uow, ctx.map, flow, paused=action == "pause", actor=ctx.actor.label, now=ctx.clock.now()
        )
        uow.commit()
    return Notice(f"Flow {flow} {'paused' if action == 'pause' else 'resumed'}.")


def _run(ctx: HandlerContext, flow: str) -> Notice:
    from sync_core.operations import record_action

    with ctx.uow_factory() as uow:
        record_action(
            uow,
            actor=ctx.actor.label,
            action="sync run",
            subject=f"flow:{flow}",
            now=ctx.clock.now(),
        )
        uow.commit()
    try:
        report = ctx.engine.poll_flow(flow)
    except ValueError as exc:
        return Notice(str(exc), ok=False)
    if report.error:
        return Notice(f"Reading {report.source} failed: {report.error}", ok=False)
    delivery = ctx.engine.drain(max_rounds=5)
    planned = poll_line(report) if report.records else f"no changes in {report.source}"
    return Notice(
        f"Ran {flow}: {planned}; "
        f"events: delivered {delivery.delivered}, retrying {delivery.retrying}, "
        f"dead {delivery.dead}."
    )
