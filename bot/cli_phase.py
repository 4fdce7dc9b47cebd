"""``handoff phase ...``: the rollout from the command line (Slack's /phase has the same)."""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.settings import Settings
from connectors.clock import SystemClock
from sync_core.map.model import IntegrationMap, Phase, PhaseState
from sync_core.parallel import compare_phase
from sync_core.phases import Gate, PhaseError, check_gates, promote, rollback
from sync_core.ports import UnitOfWork

phase_app = typer.Typer(
    help="Phases: status, parallel-period comparison, promote, rollback.", no_args_is_help=True
)
out = Console()

MapOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="The integration map (default: the demo).")
]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why; kept in the audit log.")]


@dataclass(frozen=True)
class PhaseStatus:
    id: int
    name: str
    state: str
    parallel_days: int
    days_in_parallel: int | None
    flows: list[str]
    manual_step: str | None
    gates: list[Gate]


def _status_row(
    uow: UnitOfWork, integration_map: IntegrationMap, phase: Phase, now: datetime
) -> PhaseStatus:
    row = uow.phases.get(phase.id)
    state = row.state if row else phase.state.value
    days = None
    if row and row.parallel_started_at and state == PhaseState.PARALLEL:
        days = (now - row.parallel_started_at).days
    return PhaseStatus(
        id=phase.id,
        name=phase.name,
        state=state,
        parallel_days=phase.parallel_days,
        days_in_parallel=days,
        flows=[f.name for f in integration_map.flows if f.phase == phase.id],
        manual_step=phase.manual_step,
        gates=check_gates(uow, integration_map, phase.id, now),
    )


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@phase_app.command("status")
def status(
    config: MapOption = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Each phase: state, flows, days in its parallel period, gates for promotion."""
    from bot.cli import clean_errors_call, store_only

    def run() -> None:
        now = SystemClock().now()
        settings = Settings.from_env(map_path=config)
        with store_only(settings) as (integration_map, uow_factory), uow_factory() as uow:
            rows = [
                _status_row(uow, integration_map, phase, now) for phase in integration_map.phases
            ]
        if as_json:
            out.print_json(json.dumps([asdict(row) for row in rows], default=str))
            return
        table = Table(show_edge=False)
        for column in ("phase", "state", "parallel", "flows", "gates to go live"):
            table.add_column(column)
        for row in rows:
            parallel = (
                f"{row.days_in_parallel} of {row.parallel_days} days"
                if row.days_in_parallel is not None
                else ""
            )
            gates = (
                "live"
                if row.state == PhaseState.LIVE
                else "; ".join(f"{'✓' if g.passed else '✗'} {g.detail}" for g in row.gates)
            )
            table.add_row(f"{row.id}. {row.name}", row.state, parallel, "\n".join(row.flows), gates)
        out.print(table)

    clean_errors_call(run)


@phase_app.command("compare")
def compare(
    phase_id: Annotated[int, typer.Argument(help="The phase in its parallel period.")],
    config: MapOption = None,
) -> None:
    """Compare the phase's shadow writes with what people did by hand in the targets."""
    from bot.cli import clean_errors_call, runtime

    def run() -> None:
        with runtime(config) as rt, rt.uow_factory() as uow:
            report = compare_phase(uow, rt.map, rt.connectors, phase_id, now=rt.clock.now())
            uow.commit()
        table = Table(show_edge=False)
        for column in ("flow", "canonical id", "target", "outcome", "differences"):
            table.add_column(column)
        for c in report.comparisons:
            diff = "; ".join(
                f"{name}: would write {d['intended']!r}, is {d['actual']!r}"
                for name, d in c.differences.items()
            ) or (c.detail or "")
            table.add_row(c.flow, c.canonical_id, c.target, c.outcome, diff)
        out.print(table)
        agreement = report.agreement
        summary = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "nothing"
        share = f"; manual process agrees on {agreement:.0%}" if agreement is not None else ""
        out.print(f"compared {len(report.comparisons)} shadow write(s): {summary}{share}")

    clean_errors_call(run)


@phase_app.command("promote")
def promote_command(
    phase_id: Annotated[int, typer.Argument(help="The phase to move one step towards live.")],
    reason: ReasonOption,
    override: Annotated[
        bool, typer.Option("--override", help="Promote past failed gates.")
    ] = False,
    config: MapOption = None,
) -> None:
    """Promote a phase (planned → parallel → live); going live checks its gates."""
    _change(phase_id, reason, config, override=override, forward=True)


@phase_app.command("rollback")
def rollback_command(
    phase_id: Annotated[int, typer.Argument(help="The phase to move one step back.")],
    reason: ReasonOption,
    config: MapOption = None,
) -> None:
    """Roll a phase back one step (live → parallel → planned)."""
    _change(phase_id, reason, config, override=False, forward=False)


def _change(
    phase_id: int, reason: str, config: Path | None, *, override: bool, forward: bool
) -> None:
    from bot.cli import clean_errors_call, store_only

    def run() -> None:
        now = SystemClock().now()
        settings = Settings.from_env(map_path=config)
        with store_only(settings) as (integration_map, uow_factory), uow_factory() as uow:
            try:
                if forward:
                    change = promote(
                        uow,
                        integration_map,
                        phase_id,
                        actor=_actor(),
                        reason=reason,
                        now=now,
                        override=override,
                    )
                else:
                    change = rollback(
                        uow, integration_map, phase_id, actor=_actor(), reason=reason, now=now
                    )
            except PhaseError as exc:
                raise ValueError(str(exc)) from None
            uow.commit()
        out.print(f"phase {phase_id}: {change.from_state} → {change.to_state}")
        if change.overridden:
            out.print(f"gates overridden: {', '.join(change.overridden)}")
        if change.backfilled_events:
            out.print(f"{change.backfilled_events} shadow write(s) queued for delivery")
        if change.to_state == PhaseState.LIVE:
            step = integration_map.phase(phase_id).manual_step
            if step:
                out.print(f"manual step retired: {step}")

    clean_errors_call(run)
