"""Leases sized to the work: renewed while a worker lives, back in the queue within about a
lease when it dies, released at once when it stops on purpose, and reported by a one-off
sync that finds them held."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from connectors.base import IdField, Record
from connectors.clock import SystemClock
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.conftest import REPO_ROOT
from tests.integration.engine.recording import RecordingConnector, read_log
from tests.integration.engine.test_workers import (
    finish,
    seed_events,
    start_worker,
    statuses,
    wait_for,
)
from tests.integration.engine.worker import SYSTEM, worker_map

LEASE = 1.5


def leases(uow_factory: SqlUnitOfWorkFactory) -> dict[str, tuple[str | None, datetime | None]]:
    with uow_factory() as uow:
        return {
            e.canonical_id: (e.lease_owner, e.lease_until)
            for e in uow.events.history(limit=1000)
            if e.lease_owner is not None
        }


def test_a_killed_workers_claims_are_delivered_by_another_within_about_a_lease(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    seed_events(uow_factory, 40)
    target, hanging = tmp_path / "target.jsonl", tmp_path / "hanging"
    doomed = start_worker(
        database_url,
        target,
        "doomed",
        "--lease",
        str(LEASE),
        "--batch",
        "10",
        "--hang-after",
        "13",
        "--hanging",
        str(hanging),
    )
    wait_for(hanging, doomed)
    in_flight = hanging.read_text()
    # Alive (if stuck in a vendor call), the worker keeps its claim: two leases later the
    # events it holds are still leased to it, into the future.
    time.sleep(2 * LEASE)
    held = leases(uow_factory)
    assert held and {owner for owner, _ in held.values()} == {"doomed"}
    assert in_flight in held
    now = datetime.now(UTC)
    assert all(until is not None and until > now for _, until in held.values())

    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=30)
    killed = time.monotonic()
    rescuer = start_worker(
        database_url, target, "rescuer", "--lease", str(LEASE), "--until-done", "60"
    )
    finish(rescuer)
    took = time.monotonic() - killed

    # The dead worker's claims came back after one short lease, not ten minutes.
    assert took < LEASE + 15, f"took {took:.1f}s"
    assert statuses(uow_factory) == {"delivered": 40}
    lines = read_log(target)
    creates = Counter(line["cid"] for line in lines if line["op"] == "create")
    assert set(creates) == {f"C-{i}" for i in range(40)}, "an event was lost"
    assert max(creates.values()) == 1, "a record was created twice"
    assert [line["cid"] for line in lines if line["op"] == "update"] == [in_flight]
    assert leases(uow_factory) == {}


class StoppedMidway(RecordingConnector):
    """Asks the engine to stop while its first write is in flight (as SIGTERM would)."""

    engine: Engine

    def create(
        self,
        record_type: str,
        fields: Mapping[str, Any],
        *,
        id_field: IdField,
        canonical_id: str,
        idempotency_key: str | None = None,
    ) -> Record:
        self.engine.request_stop()
        return super().create(
            record_type,
            fields,
            id_field=id_field,
            canonical_id=canonical_id,
            idempotency_key=idempotency_key,
        )


def test_a_stopping_worker_finishes_the_write_in_flight_and_releases_the_rest(
    uow_factory: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    seed_events(uow_factory, 5)
    connector = StoppedMidway(SYSTEM, tmp_path / "target.jsonl")
    engine = Engine(
        worker_map(),
        uow_factory,
        {SYSTEM: connector},
        SystemClock(),
        CollectingSink(),
        worker_id="stopping",
    )
    connector.engine = engine

    report = engine.drain(limit=5)

    assert (report.claimed, report.delivered) == (5, 1)
    assert statuses(uow_factory) == {"delivered": 1, "pending": 4}
    assert leases(uow_factory) == {}, "the claims not started are free for any worker now"
    assert engine.drain().claimed == 0  # a stopped engine takes no new work


def hold(uow_factory: SqlUnitOfWorkFactory, owner: str, count: int, lease: timedelta) -> datetime:
    """Lease ``count`` due events to ``owner``, as a `handoff run` beside the sync would."""
    now = datetime.now(UTC)
    until = now + lease
    with uow_factory() as uow:
        assert len(uow.events.claim_due(now, until, owner, count)) == count
        uow.commit()
    return until


def test_sync_once_reports_events_another_worker_holds_instead_of_claiming_success(
    database_url: str,
    uow_factory: SqlUnitOfWorkFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_events(uow_factory, 3)
    until = hold(uow_factory, "handoff-run-elsewhere", 3, timedelta(seconds=60))
    monkeypatch.setenv("HANDOFF_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")

    result = CliRunner().invoke(
        app, ["sync", "--once", "-c", str(REPO_ROOT / "examples/agency.yaml")]
    )

    assert result.exit_code == 3, result.output
    assert (
        f"3 event(s) held by another worker (their leases end by {until:%H:%M:%S} UTC): "
        "not delivered by this run" in result.output
    )
    with uow_factory() as uow:
        held = {
            (e.status, e.lease_owner)
            for e in uow.events.history(limit=100)
            if e.canonical_id.startswith("C-")
        }
    assert held == {("pending", "handoff-run-elsewhere")}
