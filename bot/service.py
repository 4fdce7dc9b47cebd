"""``handoff run``: the long-running service with the terminal as its face.

Migrates the store, starts the sandboxes the map asks for, syncs on the map's schedules and
prints what it does until Ctrl-C. With the built-in demo map, a little simulated office
activity (a deal won now and then) keeps the demo moving.

Without Slack tokens, and with a person at the terminal, it also offers the console twin: the
Slack views in the terminal, slash commands typed there, alert buttons pressed by number.
When stdin is not a terminal it just keeps syncing and printing.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Any

from rich.console import Console

from bot import render
from bot.bootstrap import Runtime, build_runtime
from bot.console.sink import ConsoleTwinSink
from bot.console.twin import ConsoleTwin
from bot.console_sink import ConsoleAlertSink
from bot.demo_activity import DemoActivity
from bot.handlers.context import HandlerContext
from bot.poll_summary import poll_line
from bot.settings import Settings
from bot.slack.deferred_sink import DeferredSink
from bot.stopping import stop_on_signals, wait_until
from sync_core.alert_watch import watch_alerts
from sync_core.deliverer import DeliveryReport
from sync_core.drift import DriftReport
from sync_core.engine import PollReport
from sync_core.parallel import ComparisonReport
from sync_core.scheduler import LeaderLock, SyncScheduler

CONSOLE_OFF = "console off: stdin is not a terminal, so typed commands are ignored"


def run_service(
    config: Path | None,
    *,
    http_log: Path | None,
    console: Console,
    interactive: bool | None = None,
) -> None:
    settings = Settings.from_env(map_path=config, http_log=http_log)
    # A delivery pass still running when the next is due is normal, not news.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    console.print("[bold]Handoff[/] starting")
    slack = bool(settings.slack_bot_token)
    if interactive is None:
        interactive = not slack and sys.stdin.isatty()
    sink = DeferredSink()
    rt = build_runtime(
        settings, alert_sink=sink, auto_upgrade=True, keep_sandboxes=True, adopt_map=True
    )
    if rt.map_note:
        console.print(f"[yellow]{rt.map_note}[/]", highlight=False)
    console.print(f"map: {rt.map_path}", markup=False, highlight=False)
    twin = ConsoleTwin(
        HandlerContext(rt.map, rt.uow_factory, rt.engine, rt.clock),
        console,
        faults={name: running.demo.sandbox.faults for name, running in rt.sandboxes.items()},
    )
    sink.target = ConsoleTwinSink(twin) if interactive else ConsoleAlertSink(console)
    url = render.safe_url(str(rt.db.url))
    console.print(f"store: {url} (migrations applied)")
    for name, served in rt.sandboxes.items():
        console.print(f"sandbox {name}: {served.url}")
    if rt.sandbox_host is not None and rt.sandbox_host.state_file is not None:
        kept = "restored from" if rt.sandbox_host.restored else "kept in"
        console.print(f"sandbox records {kept} {rt.sandbox_host.state_file}")
    _describe(console, rt)
    scheduler = SyncScheduler(
        rt.engine, LeaderLock(rt.db), on_report=_reporter(console), exchange_log=rt.exchange_log
    )
    scheduler.scheduler.add_job(
        watch_alerts,
        "interval",
        args=[rt.uow_factory, rt.map, rt.clock, sink],
        minutes=1,
        id="alerts",
        max_instances=1,
        coalesce=True,
    )
    stop = threading.Event()
    activity = DemoActivity(rt.sandboxes, console)
    with stop_on_signals():
        try:
            scheduler.start()
            activity.start()
            if slack:
                console.print("Slack tokens are set: `handoff serve` runs the Slack bot")
            elif not interactive:
                console.print(CONSOLE_OFF, markup=False, highlight=False)
            console.print("syncing; press Ctrl-C to stop")
            if interactive and twin.run(stop):
                return
            wait_until(stop)
        except KeyboardInterrupt:
            console.print("stopping: finishing the work in flight and releasing the rest")
        finally:
            stop.set()
            activity.close()
            scheduler.shutdown()
            rt.close()
    console.print("stopped")


def _describe(console: Console, rt: Runtime) -> None:
    with rt.uow_factory() as uow:
        states = {row.id: row.state for row in uow.phases.all()}
    for phase in rt.map.phases:
        flows = ", ".join(f.name for f in rt.map.flows if f.phase == phase.id)
        state = states.get(phase.id, "planned")
        console.print(f"phase {phase.id} ({state}) {phase.name}: {flows}", markup=False)


def _reporter(console: Console) -> Any:
    def report(kind: str, data: Any) -> None:
        if isinstance(data, PollReport):
            if data.error:
                console.print(f"[yellow]read {data.source} failed[/]: {data.error}")
            elif data.records:
                console.print(poll_line(data), markup=False, highlight=False)
        elif isinstance(data, DeliveryReport) and data.claimed:
            console.print(
                f"events: delivered {data.delivered}, retrying {data.retrying}, dead {data.dead}"
            )
        elif isinstance(data, DriftReport) and (data.reverted or data.reported):
            back = ", ".join(data.reverted) or "none"
            told = ", ".join(data.reported) or "none"
            console.print(
                f"[yellow]hand edits in {data.target}[/]: putting back {back}; reported {told}"
            )
        elif isinstance(data, ComparisonReport) and data.comparisons:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(data.counts.items()))
            console.print(f"phase {data.phase_id} compared with the manual process: {counts}")

    return report
