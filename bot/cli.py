"""The ``handoff`` command line. Each command is a thin shell: build, call, render.

Errors are one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.exc import ArgumentError, DBAPIError

from bot import render
from bot.bootstrap import NotMigrated, Runtime, build_runtime
from bot.console_sink import ConsoleAlertSink
from bot.poll_summary import outcome_help
from bot.settings import Settings
from connectors.base import ConnectorError
from sync_core.map.model import parse_duration
from sync_core.map.problems import MapError
from sync_core.queries import AuditQuery, audit, where

app = typer.Typer(
    name="handoff",
    help="Handoff: one-way syncs between business systems that a team can trust and see.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The store: migrations and retention.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _register_subcommands() -> None:
    from bot import cli_discover, cli_doctor, cli_init, cli_map, cli_match, cli_phase, cli_sandbox

    cli_discover.register(app)
    cli_doctor.register(app)
    cli_init.register(app)
    cli_map.register(app)
    cli_match.register(app)
    cli_phase.register(app)
    cli_sandbox.register(app)


out = Console()
# Errors stay one line whatever the terminal width (scripts and CI read them).
err = Console(stderr=True, soft_wrap=True)

MapOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="The integration map (default: the store's map; the demo on a new store).",
    ),
]
HttpLogOption = Annotated[
    Path | None,
    typer.Option("--http-log", help="Append every vendor HTTP exchange to this file (JSON lines)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print data as JSON.")]
MapChangedOption = Annotated[
    bool,
    typer.Option(
        "--map-changed",
        help="Use the map given (or the remembered map's new content) although the store "
        "ran another one, and remember it.",
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


def clean_errors(func: F) -> F:
    """Turn expected failures into one line on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MapError as exc:
            for problem in exc.problems:
                err.print(problem.format(exc.filename), markup=False, highlight=False)
            raise typer.Exit(2) from None
        except (NotMigrated, ConnectorError, LookupError, ValueError, OSError) as exc:
            err.print(f"handoff: {render.strip_control(exc)}", markup=False, highlight=False)
            raise typer.Exit(2) from None
        except (DBAPIError, ArgumentError) as exc:
            line = database_problem(exc)
            if line is None:
                raise
            err.print(f"handoff: {line}", markup=False, highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def database_problem(exc: BaseException) -> str | None:
    """One line naming the store (without its password) and why it cannot be used."""
    from sync_core.store.db import database_url, unavailable

    reason = unavailable(exc)
    if reason is None:
        return None
    try:
        where = render.safe_url(database_url())
    except Exception:
        where = "HANDOFF_DATABASE_URL"
    return f"cannot use the database at {where}: {reason}"


MAX_AGE = timedelta(days=36_500)
MAX_ID = 2**63 - 1  # the store's ids are 64-bit
MAX_LIMIT = 10_000


def age_option(option: str, value: str) -> timedelta:
    """A duration option such as ``--since 2h``, within a century."""
    try:
        return parse_duration(value, maximum=MAX_AGE)
    except ValueError as exc:
        raise ValueError(f"{option} {value}: {str(exc).replace(repr(value) + ' ', '')}") from None


def id_argument(kind: str, value: int) -> int:
    if not 1 <= value <= MAX_ID:
        raise LookupError(f"no {kind} {value}")
    return value


def clean_errors_call(func: Callable[[], Any]) -> Any:
    """Run ``func`` with the same one-line error handling as :func:`clean_errors`."""
    return clean_errors(func)()


@contextmanager
def runtime(
    config: Path | None,
    *,
    http_log: Path | None = None,
    auto_upgrade: bool = False,
    sink: ConsoleAlertSink | None = None,
    adopt_map: bool = False,
    map_changed: bool = False,
) -> Iterator[Runtime]:
    settings = Settings.from_env(map_path=config, http_log=http_log, map_changed=map_changed)
    rt = build_runtime(
        settings,
        alert_sink=sink or ConsoleAlertSink(err),
        auto_upgrade=auto_upgrade,
        adopt_map=adopt_map,
    )
    if rt.map_note:
        err.print(f"handoff: {rt.map_note}", markup=False, highlight=False)
    try:
        yield rt
    finally:
        rt.close()


@app.command()
def check(
    map_file: Annotated[Path, typer.Argument(help="The integration map to check.")],
    as_json: JsonOption = False,
) -> None:
    """Validate a map and show its systems, entities, flows and phases."""
    from bot.check_command import check_command

    raise typer.Exit(check_command(map_file, as_json=as_json, console=out))


@db_app.command("upgrade")
@clean_errors
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Remember this map as the one the store runs."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Apply the store's migrations (HANDOFF_DATABASE_URL; default a SQLite file here)."""
    from bot.map_choice import record_map
    from sync_core.store.db import database_url, make_engine, upgrade

    url = database_url()
    upgrade(url, revision)
    settings = Settings.from_env(map_path=config)
    remembered = settings.map_given and revision == "head"
    if remembered:
        db = make_engine(url)
        try:
            record_map(db, settings.map_path)
        finally:
            db.dispose()
    if as_json:
        data = {
            "database": render.safe_url(url),
            "revision": revision,
            "map": str(settings.map_path) if remembered else None,
        }
        render.print_json(out, data)
        return
    out.print(f"database at {render.safe_url(url)} is at revision {revision}")
    if remembered:
        out.print(f"the store runs the map {settings.map_path}")


@db_app.command("prune")
@clean_errors
def db_prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Keep everything newer than this (e.g. 180d).")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The retention policy: delete finished events (and their attempts) older than a cutoff;
    pending, retrying and dead events are always kept."""
    from connectors.clock import SystemClock
    from sync_core.store.db import database_url, make_engine, session_factory
    from sync_core.store.retention import prune

    age = age_option("--older-than", older_than)
    if age.days < 1:
        raise ValueError("--older-than must be a day or more (e.g. 30d): the audit log is evidence")
    db = make_engine(database_url())
    try:
        with session_factory(db)() as session:
            report = prune(session, SystemClock().now() - age, dry_run=dry_run)
            if not dry_run:
                session.commit()
    finally:
        db.dispose()
    if as_json:
        render.print_json(
            out,
            {
                "dry_run": dry_run,
                "events": report.events,
                "attempts": report.attempts,
                "shadow_writes": report.shadow_writes,
                "alerts": report.alerts,
            },
        )
        return
    verb = "would delete" if dry_run else "deleted"
    out.print(
        f"{verb} {report.events} event(s), {report.attempts} attempt(s), "
        f"{report.shadow_writes} shadow write(s), {report.alerts} closed alert(s)"
    )


@app.command(
    help="Poll every flow once and deliver everything due; exit 1 if anything died, 3 if "
    "another worker holds due events (counted, not delivered).\n\n"
    "Each record read is planned once per flow reading its source; per flow, its outcomes add "
    f"up to the records read. The words: {outcome_help()}."
)
@clean_errors
def sync(
    once: Annotated[bool, typer.Option("--once", help="Poll every flow, deliver, exit.")] = False,
    config: MapOption = None,
    http_log: HttpLogOption = None,
    as_json: JsonOption = False,
) -> None:
    if not once:
        err.print("handoff sync runs one pass: use `handoff sync --once` (or `handoff run`)")
        raise typer.Exit(2)
    with runtime(config, http_log=http_log, adopt_map=True) as rt:
        if as_json:
            report = rt.engine.sync_once()
            render.print_json(out, render.sync_report_dict(report))
        else:
            with render.progress(out) as bar:
                task = bar.add_task("reading changes", total=None)
                report = rt.engine.sync_once(progress=lambda n: bar.advance(task, n))
            render.sync_report(out, report)
        raise typer.Exit(1 if report.failed else 3 if report.incomplete else 0)


@app.command()
@clean_errors
def run(config: MapOption = None, http_log: HttpLogOption = None) -> None:
    """Run Handoff: migrate, start the sandboxes the map asks for, and keep syncing."""
    from bot.service import run_service

    run_service(config, http_log=http_log, console=out)


@app.command()
@clean_errors
def serve(
    config: MapOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port for /slack/events and /healthz.")
    ] = 3000,
    http_log: HttpLogOption = None,
) -> None:
    """Run the Slack bot and the scheduler (Socket Mode when SLACK_APP_TOKEN is set)."""
    from bot.serve import ServeError
    from bot.serve import serve as run_serve

    try:
        run_serve(
            config,
            host=host,
            port=port,
            http_log=http_log,
            say=lambda line: out.print(line, markup=False, highlight=False, soft_wrap=True),
        )
    except ServeError as exc:
        err.print(f"handoff: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None


@app.command("where")
@clean_errors
def where_command(
    query: Annotated[str, typer.Argument(help="A canonical ID or part of a customer's name.")],
    config: MapOption = None,
    as_json: JsonOption = False,
    map_changed: MapChangedOption = False,
) -> None:
    """Show a customer in every system, with links and what happened to it."""
    from bot.handlers.where import query_too_long

    if (refused := query_too_long(query)) is not None:
        raise ValueError(refused)
    settings = Settings.from_env(map_path=config, map_changed=map_changed)
    with store_only(settings) as (integration_map, uow_factory), uow_factory() as uow:
        result = where(uow, integration_map, query)
    if as_json:
        out.print_json(json.dumps([m.as_dict() for m in result.matches], default=str))
    else:
        render.where_result(out, result)
    raise typer.Exit(0 if result.matches else 1)


@app.command("audit")
@clean_errors
def audit_command(
    canonical_id: Annotated[
        str | None, typer.Option("--canonical-id", help="Only this customer (ID or name).")
    ] = None,
    system: Annotated[
        str | None, typer.Option("--system", help="Only events from or to this system.")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, retrying, delivered, dead, shadow…")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only the last 30m, 2h, 7d…")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many events.")] = 50,
    config: MapOption = None,
    as_json: JsonOption = False,
    map_changed: MapChangedOption = False,
) -> None:
    """The event history (the audit log), newest first."""
    from connectors.clock import SystemClock

    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"--limit {limit}: between 1 and {MAX_LIMIT:,}")
    settings = Settings.from_env(map_path=config, map_changed=map_changed)
    q = AuditQuery(
        query=canonical_id,
        system=system,
        status=status,
        since=age_option("--since", since) if since else None,
        limit=limit,
    )
    with store_only(settings) as (integration_map, uow_factory), uow_factory() as uow:
        events = audit(uow, integration_map, q, SystemClock().now())
    if as_json:
        out.print_json(json.dumps([render.event_dict(e) for e in events], default=str))
    else:
        render.audit_table(out, events)


@app.command("event")
@clean_errors
def event_command(
    event_id: Annotated[int, typer.Argument(help="The event (its id is in audit and alerts).")],
    config: MapOption = None,
    as_json: JsonOption = False,
    map_changed: MapChangedOption = False,
) -> None:
    """One event: its payload, every attempt with the HTTP exchanges it made, who acted on it."""
    from sync_core.queries import event_detail

    id_argument("event", event_id)
    settings = Settings.from_env(map_path=config, map_changed=map_changed)
    with store_only(settings) as (_map, uow_factory), uow_factory() as uow:
        detail = event_detail(uow, event_id)
    if detail is None:
        raise LookupError(f"no event {event_id}")
    if as_json:
        out.print_json(json.dumps(detail.as_dict(), default=str))
    else:
        render.event_detail(out, detail)


@app.command()
@clean_errors
def retry(
    event_id: Annotated[int | None, typer.Argument(help="The event to requeue.")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Requeue every dead event.")] = False,
    config: MapOption = None,
    map_changed: MapChangedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Requeue a failed event (or every dead one) for delivery on the next pass."""
    from connectors.clock import SystemClock
    from sync_core.requeue import requeue_dead, requeue_event

    if event_id is None and not dead:
        err.print("handoff retry needs an EVENT_ID or --dead")
        raise typer.Exit(2)
    if event_id is not None:
        id_argument("event", event_id)
    settings = Settings.from_env(map_path=config, map_changed=map_changed)
    # a retry plans failed mappings again with the map it is given: it adopts that map
    with store_only(settings, adopt=True) as (integration_map, uow_factory):
        now = SystemClock().now()
        if dead:
            count = requeue_dead(uow_factory, now=now, actor="cli", integration_map=integration_map)
            if as_json:
                render.print_json(out, {"requeued": count})
            else:
                out.print(f"requeued {count} dead event(s)")
        else:
            assert event_id is not None
            requeued = requeue_event(
                uow_factory, event_id, now=now, actor="cli", integration_map=integration_map
            )
            if as_json:
                render.print_json(out, {"event": event_id, "requeued": requeued})
            elif requeued:
                out.print(f"event {event_id} requeued")
            else:
                out.print(
                    f"event {event_id} not requeued: it is not failed, or planned again it "
                    f"failed or had nothing to send (handoff event {event_id})"
                )


@contextmanager
def store_only(settings: Settings, *, adopt: bool = False) -> Iterator[tuple[Any, Any]]:
    """The map and the store, without connectors. A command that acts with the map
    (``adopt``) records a changed map as the store's, saying so in one line."""
    from bot.bootstrap import open_database, read_map
    from bot.map_choice import choose_map, record_map
    from sync_core.store.uow import SqlUnitOfWorkFactory

    db = open_database(settings)
    try:
        adopting = adopt or settings.map_changed
        choice = choose_map(settings, db, adopt=adopting)
        integration_map = read_map(choice.path)
        if adopting:
            record_map(db, choice.path)
        if choice.note:
            err.print(choice.note, markup=False, highlight=False)
        yield integration_map, SqlUnitOfWorkFactory(db)
    finally:
        db.dispose()


_register_subcommands()


def main() -> None:
    from bot.logs import configure_logging

    configure_logging()
    try:
        app()
    except KeyboardInterrupt:
        err.print("stopped")
        sys.exit(130)


if __name__ == "__main__":
    main()
