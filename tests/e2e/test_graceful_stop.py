"""``handoff run`` and ``handoff serve`` stopped by SIGTERM: they finish or release what they
hold, shut the scheduler down and exit 0, leaving no event leased."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx

from connectors.faults import CONTROL_PATH
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.e2e.fake_slack import FakeSlack
from tests.e2e.test_serve import HANDOFF, REPO, Served, serve_env


def leased(uow_factory: SqlUnitOfWorkFactory) -> int:
    with uow_factory() as uow:
        return sum(1 for e in uow.events.history(limit=10_000) if e.lease_owner is not None)


def test_sigterm_during_delivery_exits_0_and_leaves_no_event_leased(
    database_url: str, uow_factory: SqlUnitOfWorkFactory
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SLACK_") and "PROXY" not in k.upper()
    }
    env.update(HANDOFF_DATABASE_URL=database_url, PYTHONUNBUFFERED="1", COLUMNS="200")
    process = subprocess.Popen(
        [*HANDOFF, "run"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Served(process)
    try:
        # Every write to the accounting sandbox stalls, so deliveries are in flight.
        xero = running.wait_line(r"sandbox xero: (\S+)").group(1)
        for method in ("PUT", "POST"):
            httpx.post(
                xero + CONTROL_PATH,
                json={"kind": "timeout", "times": 1000, "delay": 1.0, "method": method},
            ).raise_for_status()
        deadline = time.monotonic() + 60
        while leased(uow_factory) == 0:
            assert process.poll() is None, "".join(running.output)
            assert time.monotonic() < deadline, "no event was ever leased"
            time.sleep(0.05)

        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    output = "".join(running.output)
    assert process.returncode == 0, output
    assert "stopping: finishing the work in flight and releasing the rest" in output
    assert leased(uow_factory) == 0


def test_sigterm_stops_serve_gracefully_with_exit_0(slack: FakeSlack, database_url: str) -> None:
    process = subprocess.Popen(
        [*HANDOFF, "serve", "--port", "0"],
        cwd=REPO,
        env=serve_env(slack, database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Served(process)
    try:
        running.wait_line(r"listening on http://127\.0\.0\.1:\d+/slack/events")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(running.output)
    assert process.returncode == 0, output
    assert running.output[-1].strip() == "stopped", output
