"""``handoff match ...``: reconcile the records that exist before a flow goes live.

``handoff match ENTITY`` proposes; ``match review`` decides (in the terminal or through a CSV
file); ``match apply`` stamps and links; ``handoff unlink`` undoes a wrong link.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from bot.cli_phase import MapChangedOption, MapOption, _actor
from bot.settings import Settings
from sync_core.ports import UnitOfWork
from sync_core.store.models import MatchProposalRow, MatchStatus

out = Console()
CSV_COLUMNS = (
    "proposal",
    "entity",
    "canonical_id",
    "source",
    "source_id",
    "source_name",
    "record",
    "external_id",
    "name",
    "source_url",
    "url",
    "score",
    "reasons",
    "status",
    "decision",
    "reason",
)


class _EntityDefault(TyperGroup):
    """``handoff match client`` runs ``handoff match run client``: a word that is not a
    subcommand is the entity to reconcile."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


match_app = typer.Typer(
    cls=_EntityDefault,
    help="Reconcile existing records: `handoff match ENTITY`, then review, then apply.",
    no_args_is_help=True,
)


@match_app.command("run")
def run_command(
    entity: Annotated[str, typer.Argument(help="The entity to reconcile, e.g. client.")],
    config: MapOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the proposals as JSON.")] = False,
    map_changed: MapChangedOption = False,
) -> None:
    """Read the entity in every system and store the proposals (re-running keeps decisions)."""
    from bot import render
    from bot.cli import clean_errors_call, runtime
    from sync_core.matching.resumable import match_entity
    from sync_core.matching.service import records_urls
    from sync_core.matching.storing import REPORT_ROWS

    def run() -> None:
        with runtime(config, map_changed=map_changed) as rt:
            with render.progress(out) as bar:
                tasks: dict[str, Any] = {}

                def tick(ref: str, count: int) -> None:
                    if ref not in tasks:
                        tasks[ref] = bar.add_task(f"reading {ref}", total=None)
                    bar.advance(tasks[ref], count)

                # a read that died part-way goes on from its checkpoint
                report = match_entity(
                    rt.uow_factory,
                    rt.map,
                    rt.connectors,
                    entity,
                    clock=rt.clock.now,
                    progress=tick,
                    keep_rows=None if as_json else REPORT_ROWS,  # JSON lists every one
                )
            with rt.uow_factory() as uow:
                urls = records_urls(uow, report.proposals)
                rows = [
                    proposal_dict(row, u) for row, u in zip(report.proposals, urls, strict=True)
                ]
        if as_json:
            out.print_json(json.dumps(rows, default=str))
            return
        read = ", ".join(f"{ref} {n}" for ref, n in report.read.items())
        out.print(f"read {read}", markup=False, highlight=False)
        for ref, why in report.unread.items():
            out.print(f"not read: {ref} ({why})", markup=False, highlight=False)
        _table(rows)
        if report.found > len(rows):
            out.print(
                f"the first {len(rows)} listed; every one: handoff match run --json, "
                "or the open ones: handoff match review --export FILE.csv",
                markup=False,
                highlight=False,
            )
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "nothing"
        out.print(f"{report.found} proposal(s): {counts}", markup=False, highlight=False)
        if report.counts.get(MatchStatus.OPEN.value):
            out.print("review them: handoff match review (or --export FILE.csv)", markup=False)
        if report.counts.get(MatchStatus.ACCEPTED.value):
            out.print("link the accepted ones: handoff match apply", markup=False)

    clean_errors_call(run)


@match_app.command("review")
def review_command(
    entity: Annotated[str | None, typer.Option("--entity", "-e", help="Only this entity.")] = None,
    export: Annotated[
        Path | None, typer.Option("--export", help="Write the open proposals to a CSV file.")
    ] = None,
    import_file: Annotated[
        Path | None,
        typer.Option("--import", help="Read decisions (accept, reject, skip) from a CSV file."),
    ] = None,
    config: MapOption = None,
    map_changed: MapChangedOption = False,
) -> None:
    """Decide the open proposals: one by one here, or in a spreadsheet (--export/--import)."""
    from bot.cli import clean_errors_call, store_only
    from connectors.clock import SystemClock
    from sync_core.matching.service import decide, record_urls, records_urls
    from sync_core.phases import settle_review

    def run() -> None:
        settings = Settings.from_env(map_path=config, map_changed=map_changed)
        with store_only(settings) as (integration_map, uow_factory), uow_factory() as uow:
            entities = [entity] if entity else list(integration_map.entities)
            open_rows = [
                row
                for name in entities
                for row in uow.matches.for_entity(name, [MatchStatus.OPEN.value])
            ]
            if export is not None:
                _export(export, list(zip(open_rows, records_urls(uow, open_rows), strict=True)))
                out.print(f"wrote {len(open_rows)} open proposal(s) to {export}", markup=False)
                return
            if import_file is not None:
                decided = _import(import_file, uow)
                settle_review(uow, integration_map, actor=_actor(), now=SystemClock().now())
                uow.commit()
                out.print(
                    f"{decided} decision(s) read from {import_file}; "
                    "`handoff match apply` links the accepted ones",
                    markup=False,
                )
                return
            if not open_rows:
                out.print("no open proposals")
                return
            for index, row in enumerate(open_rows, start=1):
                _side_by_side(row, record_urls(uow, row), index, len(open_rows))
                answer = typer.prompt("accept, reject, skip or quit", default="skip").lower()
                if answer.startswith("q"):
                    break
                choice = {"a": "accept", "r": "reject"}.get(answer[:1], "skip")
                reason = typer.prompt("why", default="") if choice == "reject" else None
                decide(
                    uow,
                    row.id,
                    choice,
                    actor=_actor(),
                    now=SystemClock().now(),
                    reason=reason or None,
                )
                settle_review(uow, integration_map, actor=_actor(), now=SystemClock().now())
                uow.commit()

    clean_errors_call(run)


@match_app.command("apply")
def apply_command(
    entity: Annotated[str | None, typer.Argument(help="Only this entity.")] = None,
    config: MapOption = None,
    map_changed: MapChangedOption = False,
) -> None:
    """Stamp the canonical ID into every accepted record and store the links (resumable)."""
    from bot.cli import clean_errors_call, runtime
    from sync_core.matching.apply import apply_accepted

    def run() -> None:
        failed = refused = False
        with runtime(config, map_changed=map_changed) as rt:
            for name in [entity] if entity else list(rt.map.entities):
                if name not in rt.map.entities:
                    raise LookupError(f"no entity {name!r} in the map")
                report = apply_accepted(
                    rt.uow_factory, rt.map, rt.connectors, name, actor=_actor(), clock=rt.clock.now
                )
                for line in report.applied:
                    out.print(f"linked {line}", markup=False, highlight=False)
                for line in report.failed:
                    out.print(f"not linked {line}", markup=False, highlight=False)
                for line in report.refused:
                    out.print(f"not linked {line}; back to review", markup=False, highlight=False)
                failed = failed or bool(report.failed)
                refused = refused or bool(report.refused)
        if refused:
            out.print("fix the record and accept it again, or reject it: handoff match review")
        if failed or refused:
            raise typer.Exit(1)

    clean_errors_call(run)


def unlink_command(
    canonical_id: Annotated[str, typer.Argument(help="The customer's canonical ID, e.g. PD-1.")],
    record: Annotated[str, typer.Argument(help="system.record_type, e.g. xero.contact.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why; kept in the audit log.")],
    config: MapOption = None,
    map_changed: MapChangedOption = False,
) -> None:
    """Undo a wrong link: clear the canonical ID from that system's record and drop the link."""
    from bot.cli import clean_errors_call, runtime
    from sync_core.linking import LinkError, unlink_record
    from sync_core.map.model import RecordRef

    def run() -> None:
        ref = RecordRef.parse(record)
        with runtime(config, map_changed=map_changed) as rt, rt.uow_factory() as uow:
            try:
                done = unlink_record(
                    uow,
                    rt.map,
                    rt.connectors,
                    canonical_id,
                    ref,
                    actor=_actor(),
                    reason=reason,
                    now=rt.clock.now(),
                )
            except LinkError as exc:
                raise ValueError(str(exc)) from None
            uow.commit()
        out.print(
            f"{done.canonical_id} is no longer {ref} {done.external_id}: "
            f"`handoff link {done.canonical_id} {ref} ID` links the right record",
            markup=False,
            highlight=False,
        )

    clean_errors_call(run)


def proposal_dict(
    row: MatchProposalRow, urls: tuple[str | None, str | None] = (None, None)
) -> dict[str, Any]:
    return {
        "proposal": row.id,
        "entity": row.entity,
        "canonical_id": row.canonical_id,
        "source": f"{row.source_system}.{row.source_record_type}",
        "source_id": row.source_external_id,
        "source_name": row.source_name,
        "record": row.ref,
        "external_id": row.external_id,
        "name": row.name,
        "source_url": urls[0],
        "url": urls[1],
        "score": row.score,
        "reasons": row.reasons,
        "status": row.status,
        "decided_by": row.decided_by,
    }


def _table(rows: list[dict[str, Any]]) -> None:
    table = Table(show_edge=False)
    for column in ("#", "customer", "record", "score", "status", "why"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["proposal"]),
            f"{row['canonical_id']} {row['source_name'] or ''}",
            f"{row['record']} {row['external_id']} {row['name'] or ''}",
            f"{row['score']:.2f}",
            row["status"],
            row["reasons"],
        )
    out.print(table)


def _side_by_side(
    row: MatchProposalRow, urls: tuple[str | None, str | None], index: int, total: int
) -> None:
    table = Table(title=f"proposal {row.id} ({index} of {total}): score {row.score:.2f}")
    table.add_column(f"{row.source_system}.{row.source_record_type} {row.source_external_id}")
    table.add_column(f"{row.ref} {row.external_id}")
    table.add_row(row.source_name or "", row.name or "")
    table.add_row(urls[0] or "", urls[1] or "")
    out.print(table)
    out.print(f"{row.canonical_id} · {row.reasons}", markup=False, highlight=False)


def _export(path: Path, rows: list[tuple[MatchProposalRow, tuple[str | None, str | None]]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row, urls in rows:
            writer.writerow({**proposal_dict(row, urls), "decision": "", "reason": ""})


def _import(path: Path, uow: UnitOfWork) -> int:
    from connectors.clock import SystemClock
    from sync_core.matching.service import decide

    decided = 0
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line in csv.DictReader(handle):
            decision = (line.get("decision") or "").strip().lower()
            if not decision or decision == "skip":
                continue
            try:
                proposal = int(line.get("proposal") or "")
            except ValueError:
                raise ValueError(f"{path}: a row without a proposal number: {line}") from None
            decide(
                uow,
                proposal,
                decision,
                actor=_actor(),
                now=SystemClock().now(),
                reason=(line.get("reason") or "").strip() or None,
            )
            decided += 1
    return decided


def register(app: typer.Typer) -> None:
    app.add_typer(match_app, name="match")
    app.command("unlink")(unlink_command)
