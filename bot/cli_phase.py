"""``handoff phase ...``: the rollout from the command line (Slack's /phase has the same)."""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot import render
from bot.settings import Settings
from bot.views.rollout import comparison_text
from connectors.clock import SystemClock
from sync_core.map.model import PhaseState
from sync_core.parallel import compare_phase
from sync_core.phases import PhaseError, check_gates, promote, rollback
from sync_core.rollout import phase_status

phase_app = typer.Typer(
    help="Phases: status, parallel-period comparison, promote, rollback.", no_args_is_help=True
)
out = Console()

MapOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="The integration map (default: the store's map; the demo on a new store).",
    ),
]
MapChangedOption = Annotated[
    bool,
    typer.Option("--map-changed", help="Run with this map although the store ran another."),
]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why; kept in the audit log.")]


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@phase_app.command("status")
def status(
    config: MapOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    map_changed: MapChangedOption = False,
) -> None:
    """Each phase: state, flows, days in its parallel period, gates for promotion."""
    from bot.cli import clean_errors_call, store_only

    def run() -> None:
        now = SystemClock().now()
        settings = Settings.from_env(map_path=config, map_changed=map_changed)
        with store_only(settings) as (integration_map, uow_factory), uow_factory() as uow:
            phases = phase_status(uow, integration_map, now)
            gates = {p.id: check_gates(uow, integration_map, p.id, now) for p in phases}
        if as_json:
            data = [{**asdict(p), "gates": [asdict(g) for g in gates[p.id]]} for p in phases]
            out.print_json(json.dumps(data, default=str))
            return
        table = Table(show_edge=False)
        for column in ("phase", "state", "parallel", "flows", "dead (7 d)", "gates to go live"):
            table.add_column(column)
        for p in phases:
            parallel = (
                f"{p.days_in_parallel} of {p.parallel_days} days"
                if p.days_in_parallel is not None
                else ""
            )
            if p.comparison:
                parallel += f"\n{comparison_text(p.comparison)}"
            if p.review:
                parallel += f"\n{p.review}"
            verdict = (
                "live"
                if p.state == PhaseState.LIVE
                else "; ".join(f"{'✓' if g.passed else '✗'} {g.detail}" for g in gates[p.id])
            )
            table.add_row(
                f"{p.id}. {p.name}",
                p.state,
                parallel,
                "\n".join(p.flows),
                str(p.failures_7d),
                verdict,
            )
        out.print(render.folded(table))

    clean_errors_call(run)


@phase_app.command("compare")
def compare(
    phase_id: Annotated[int, typer.Argument(help="The phase in its parallel period.")],
    config: MapOption = None,
    map_changed: MapChangedOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print data as JSON.")] = False,
) -> None:
    """Compare the phase's shadow writes with what people did by hand in the targets."""
    from bot.cli import clean_errors_call, runtime

    def run() -> None:
        with runtime(config, map_changed=map_changed) as rt, rt.uow_factory() as uow:
            report = compare_phase(uow, rt.map, rt.connectors, phase_id, now=rt.clock.now())
            uow.commit()
        if as_json:
            render.print_json(out, render.comparison_dict(report))
            return
        render.comparison_report(out, report)
        agreement = report.agreement
        summary = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "nothing"
        share = f"; manual process agrees on {agreement:.0%}" if agreement is not None else ""
        out.print(f"compared {len(report.comparisons)} shadow write(s): {summary}{share}")
        if report.counts.get("missing"):
            out.print(
                "a record made by hand without the canonical ID counts as missing: "
                "`handoff link CANONICAL_ID SYSTEM.RECORD_TYPE ID` adopts it before cutover"
            )

    clean_errors_call(run)


@phase_app.command("promote")
def promote_command(
    phase_id: Annotated[int, typer.Argument(help="The phase to move one step towards live.")],
    reason: ReasonOption,
    override: Annotated[
        bool, typer.Option("--override", help="Promote past failed gates.")
    ] = False,
    config: MapOption = None,
    map_changed: MapChangedOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print data as JSON.")] = False,
) -> None:
    """Promote a phase (planned → parallel → live); going live checks its gates."""
    _change(phase_id, reason, config, map_changed, override=override, forward=True, as_json=as_json)


@phase_app.command("rollback")
def rollback_command(
    phase_id: Annotated[int, typer.Argument(help="The phase to move one step back.")],
    reason: ReasonOption,
    config: MapOption = None,
    map_changed: MapChangedOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print data as JSON.")] = False,
) -> None:
    """Roll a phase back one step (live → parallel → planned)."""
    _change(phase_id, reason, config, map_changed, override=False, forward=False, as_json=as_json)


def _change(
    phase_id: int,
    reason: str,
    config: Path | None,
    map_changed: bool,
    *,
    override: bool,
    forward: bool,
    as_json: bool = False,
) -> None:
    from bot.cli import clean_errors_call, store_only

    def run() -> None:
        now = SystemClock().now()
        settings = Settings.from_env(map_path=config, map_changed=map_changed)
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
        if as_json:
            render.print_json(out, {"phase": phase_id, **asdict(change)})
            return
        out.print(f"phase {phase_id}: {change.from_state} → {change.to_state}")
        if change.overridden:
            out.print(f"gates overridden: {', '.join(change.overridden)}")
        if change.backfilled_events:
            out.print(f"{change.backfilled_events} shadow write(s) queued for delivery")
        if change.manual_step_retired:
            out.print(f"manual step retired: {change.manual_step_retired}")

    clean_errors_call(run)


def link_command(
    canonical_id: Annotated[str, typer.Argument(help="The customer's canonical ID, e.g. PD-1.")],
    record: Annotated[str, typer.Argument(help="system.record_type, e.g. xero.contact.")],
    external_id: Annotated[str, typer.Argument(help="The hand-made record's id in that system.")],
    config: MapOption = None,
    map_changed: MapChangedOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print data as JSON.")] = False,
) -> None:
    """Adopt a hand-made record: stamp the canonical ID into it so syncs update it."""
    from bot.cli import clean_errors_call, runtime
    from sync_core.linking import LinkError, adopt_record
    from sync_core.map.model import RecordRef

    def run() -> None:
        ref = RecordRef.parse(record)
        with runtime(config, map_changed=map_changed) as rt, rt.uow_factory() as uow:
            try:
                adopted = adopt_record(
                    uow,
                    rt.map,
                    rt.connectors,
                    canonical_id,
                    ref,
                    external_id,
                    actor=_actor(),
                    now=rt.clock.now(),
                )
            except LinkError as exc:
                raise ValueError(str(exc)) from None
            uow.commit()
        if as_json:
            render.print_json(out, render.adopted_dict(adopted))
            return
        out.print(
            f"{adopted.canonical_id} is now {ref} {adopted.external_id} "
            f"({adopted.display_name or 'no name'}): syncs will update it"
        )

    clean_errors_call(run)


def register(app: typer.Typer) -> None:
    app.add_typer(phase_app, name="phase")
    app.command("link")(link_command)
