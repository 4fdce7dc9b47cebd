"""Terminal rendering of the read models (rich). The Slack views render the same data."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape as escape_markup
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import make_url

from bot.poll_summary import flow_outcomes
from sync_core.engine import SyncReport
from sync_core.linking import Adopted
from sync_core.parallel import ComparisonReport
from sync_core.queries import CustomerView, EventDetail, EventSummary, WhereResult

STATUS_STYLE = {
    "delivered": "green",
    "pending": "cyan",
    "retrying": "yellow",
    "dead": "bold red",
    "shadow": "magenta",
    "ignored": "dim",
    "superseded": "dim",
}


# C0 and C1 control characters (ESC starts ANSI sequences that recolour or rewrite the terminal),
# except tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(value: object) -> str:
    """Data as inert terminal text: control characters dropped, rich markup escaped."""
    return escape_markup(_CONTROL.sub("", str(value)))


def strip_control(value: object) -> str:
    """Data for a line printed with ``markup=False``: control characters dropped."""
    return _CONTROL.sub("", str(value))


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def folded(table: Table) -> Table:
    """The table with every cell wrapping, and words longer than their column folded onto the
    next line instead of cut with an ellipsis: an 80-column terminal still shows everything."""
    for column in table.columns:
        column.no_wrap = False
        column.overflow = "fold"
    return table


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


@contextmanager
def progress(console: Console) -> Iterator[Progress]:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        yield bar


def sync_report(console: Console, report: SyncReport) -> None:
    table = Table(title="Changes read", show_edge=False)
    table.add_column("source")
    table.add_column("records", justify="right")
    table.add_column("outcome per flow (see handoff sync --help)")
    for poll in report.polls:
        outcome = poll.error or flow_outcomes(poll)
        if poll.held_elsewhere:
            outcome = ", ".join(filter(None, [outcome, "another run is reading it"]))
        table.add_row(plain(poll.source), str(poll.records), plain(outcome or "no changes"))
    console.print(folded(table))
    d = report.delivery
    console.print(
        f"delivered [green]{d.delivered}[/], retrying [yellow]{d.retrying}[/], "
        f"dead [red]{d.dead}[/]"
    )
    if report.held.events:
        until = (
            f" (their leases end by {report.held.until:%H:%M:%S} UTC)" if report.held.until else ""
        )
        console.print(
            f"[yellow]{report.held.events} event(s) held by another worker{until}[/]: "
            "not delivered by this run",
            soft_wrap=True,
        )


def sync_report_dict(report: SyncReport) -> dict[str, Any]:
    """``handoff sync --once --json``: what each source read and what delivery did."""
    d = report.delivery
    return {
        "polls": [
            {
                "source": poll.source,
                "records": poll.records,
                "pages": poll.pages,
                "outcomes": dict(poll.outcomes),
                "by_flow": {flow: dict(counts) for flow, counts in poll.by_flow.items()},
                "error": poll.error,
                "dead": poll.dead,
                "held_elsewhere": poll.held_elsewhere,
            }
            for poll in report.polls
        ],
        "delivery": {
            "claimed": d.claimed,
            "delivered": d.delivered,
            "retrying": d.retrying,
            "dead": d.dead,
        },
        "held_by_another_worker": {
            "events": report.held.events,
            "until": report.held.until.isoformat() if report.held.until else None,
        },
        "failed": report.failed,
    }


def comparison_dict(report: ComparisonReport) -> dict[str, Any]:
    """``handoff phase compare N --json``: every shadow write against what people did."""
    return {
        "phase": report.phase_id,
        "counts": dict(report.counts),
        "agreement": report.agreement,
        "comparisons": [
            {
                "shadow_id": c.shadow_id,
                "flow": c.flow,
                "canonical_id": c.canonical_id,
                "display_name": c.display_name or None,
                "target": c.target,
                "outcome": c.outcome,
                "differences": c.differences,
                "detail": c.detail,
                "manual_name": c.manual_name,
            }
            for c in report.comparisons
        ],
    }


def adopted_dict(adopted: Adopted) -> dict[str, Any]:
    """``handoff link --json``: the record adopted and the canonical ID it now carries."""
    return {
        "canonical_id": adopted.canonical_id,
        "record": str(adopted.ref),
        "external_id": adopted.external_id,
        "display_name": adopted.display_name,
        "url": adopted.url,
    }


def print_json(console: Console, data: Any) -> None:
    """JSON for scripts: no wrapping, no markup, no colour."""
    console.out(json.dumps(data, indent=2, ensure_ascii=False, default=str), highlight=False)


def customer(console: Console, view: CustomerView) -> None:
    console.print(
        f"[bold]{plain(view.display_name)}[/]  "
        f"[dim]{plain(view.canonical_id)} · {plain(view.entity)}[/]"
    )
    if view.source_of_truth:
        console.print(f"  source of truth: {plain('; '.join(view.source_of_truth))}")
    records = Table(show_edge=False, box=None, padding=(0, 2))
    records.add_column("system")
    records.add_column("record")
    records.add_column("link")
    for link in view.records:
        records.add_row(
            plain(f"{link.system}.{link.record_type}"),
            f"{plain(link.display_name or '')} [dim]({plain(link.external_id)})[/]",
            plain(link.url or ""),
        )
    for missing in view.missing_in:
        records.add_row(plain(missing), "[dim]not there yet[/]", "")
    console.print(folded(records))
    if view.latest_events:
        events = Table(show_edge=False, box=None, padding=(0, 2))
        events.add_column("flow")
        events.add_column("status")
        events.add_column("when")
        events.add_column("detail")
        for event in view.latest_events:
            events.add_row(
                plain(event.flow),
                status_text(event.status),
                event.at.strftime("%Y-%m-%d %H:%M:%S"),
                _detail(event),
            )
        console.print(folded(events))


def where_result(console: Console, result: WhereResult) -> None:
    if not result.matches:
        hint = f" Did you mean: {', '.join(result.suggestions)}?" if result.suggestions else ""
        console.print(plain(f"No customer matches “{result.query}”.{hint}"))
        return
    for index, view in enumerate(result.matches):
        if index:
            console.print()
        customer(console, view)


def comparison_report(console: Console, report: ComparisonReport) -> None:
    """A parallel period's comparison: one row per record, then how each differing record
    differs, field by field (what Handoff would have written, what people typed)."""
    table = Table(show_edge=False)
    for column in ("flow", "customer (canonical id)", "target", "outcome", "detail"):
        table.add_column(column)
    for c in report.comparisons:
        detail = f"{len(c.differences)} field(s) differ" if c.differences else c.detail
        table.add_row(
            c.flow, named(c.display_name, c.canonical_id), c.target, c.outcome, detail or ""
        )
    console.print(folded(table))
    differing = [c for c in report.comparisons if c.differences]
    if differing:
        console.print("records that differ (field: shadow value → manual value):")
    for c in differing:
        manual = f", made by hand as {c.manual_name!r}" if c.manual_name else ""
        lines = [f"  {named(c.display_name, c.canonical_id)} in {c.target}{manual}"]
        lines += [
            f"    {name}: shadow {d['intended']!r} → manual {d['actual']!r}"
            for name, d in c.differences.items()
        ]
        # Vendor values may hold brackets: printed as they are, never as markup.
        console.print("\n".join(lines), markup=False, highlight=False)


def named(display_name: str | None, canonical_id: str) -> str:
    """``Acme Ltd (XC-1f3…)``: the customer's name beside its canonical ID."""
    return f"{display_name} ({canonical_id})" if display_name else canonical_id


def _detail(event: EventSummary) -> str:
    if event.status in ("dead", "retrying") and event.error_message:
        text = plain(f"{event.error_kind}: {event.error_message}")
        if event.next_attempt_at is not None:
            text += f" (next try {event.next_attempt_at:%H:%M:%S})"
        return text
    return f"event {event.id}, {event.attempts} attempt(s)"


def audit_table(console: Console, events: list[EventSummary]) -> None:
    if not events:
        console.print("No events match.")
        return
    table = Table(show_edge=False)
    for column in (
        "id",
        "time",
        "flow",
        "customer (canonical id)",
        "source → target",
        "status",
        "tries",
        "error",
    ):
        table.add_column(column)
    for e in events:
        table.add_row(
            str(e.id),
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            plain(e.flow),
            plain(named(e.display_name, e.canonical_id)),
            plain(f"{e.source} → {e.target}"),
            status_text(e.status),
            str(e.attempts),
            plain(f"{e.error_kind}: {e.error_message}") if e.error_kind else "",
        )
    console.print(folded(table))


def event_dict(event: EventSummary) -> dict[str, Any]:
    return {
        "id": event.id,
        "time": event.at.isoformat(),
        "flow": event.flow,
        "canonical_id": event.canonical_id,
        "display_name": event.display_name or None,
        "source": event.source,
        "target": event.target,
        "status": event.status,
        "mode": event.mode,
        "attempts": event.attempts,
        "next_attempt_at": event.next_attempt_at.isoformat() if event.next_attempt_at else None,
        "error_kind": event.error_kind,
        "error_message": event.error_message,
        "payload": event.payload,
    }


def event_detail(console: Console, detail: EventDetail) -> None:
    e = detail.event
    console.print(
        f"[bold]event {e.id}[/] {plain(e.flow)}: {plain(e.source)} → {plain(e.target)} for "
        f"{plain(e.canonical_id)} — {status_text(e.status)} ({e.mode}), {e.attempts} attempt(s)"
    )
    console.print(f"  payload: {strip_control(e.payload)}", markup=False, highlight=False)
    if detail.attempts:
        table = Table(show_edge=False)
        for column in ("#", "time", "outcome", "HTTP", "ms", "waited", "error", "exchanges"):
            table.add_column(column)
        for a in detail.attempts:
            table.add_row(
                str(a.number),
                a.at.strftime("%Y-%m-%d %H:%M:%S"),
                a.outcome,
                str(a.http_status or ""),
                f"{a.duration_ms or 0:.0f}",
                f"{(a.waited_ms or 0) / 1000:.1f} s" if a.waited_ms else "",
                plain(f"{a.error_kind}: {a.error_message}") if a.error_kind else "",
                ", ".join(a.exchange_ids),
            )
        console.print(folded(table))
    for action in detail.actions:
        why = f": {action.reason}" if action.reason else ""
        line = f"  {action.at:%Y-%m-%d %H:%M} {action.actor} {action.action}{why}"
        console.print(strip_control(line), markup=False, highlight=False)
