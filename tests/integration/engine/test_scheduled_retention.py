"""The service applies the map's retention on a schedule: finished events older than the
cutoff go, with the HTTP exchanges logged before theirs; nothing unsettled ever goes, and
``retention: off`` prunes nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as DbEngine

from connectors.clock import FrozenClock
from connectors.http import ExchangeLog
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine
from sync_core.scheduler import LeaderLock, SyncScheduler
from tests.integration.engine.test_retention import statuses
from tests.support.agency import agency_engine, in_process_map


def history(db: DbEngine, clock: FrozenClock) -> Engine:
    """Old delivered and dead events; 100 days later a delivered, a retrying and a pending one;
    then 100 days more."""
    integration_map = in_process_map()
    engine, connectors = agency_engine(db, clock, integration_map)
    connectors["asana"].fault("renamed_field", times=1000)  # the project flow dies at once
    engine.sync_once()
    clock.advance(timedelta(days=100))
    connectors["pipedrive"].edit("deal", "102", status="won")
    # The deliveries 200 days old by the end (the ones the 150-day cutoff takes).
    engine.old_deliveries = statuses(db)["delivered"]  # type: ignore[attr-defined]
    engine.sync_once()  # delivered to Xero 100 days after the first ones
    connectors["xero"].fault("server_error", times=1000)
    connectors["pipedrive"].edit("deal", "106", status="won")
    engine.sync_once()  # retrying
    connectors["pipedrive"].edit("deal", "108", status="won")
    for source in integration_map.sources():
        engine.poll(source)  # pending: planned, not yet delivered
    clock.advance(timedelta(days=100))
    return engine


def with_retention(engine: Engine, retention: Any) -> Engine:
    return Engine(
        in_process_map(retention),
        engine.uow_factory,
        engine.connectors,
        engine.clock,
        CollectingSink(),
    )


def log_lines(path: Path, clock: FrozenClock, days_ago: list[int]) -> ExchangeLog:
    exchange_log = ExchangeLog(path, clock)
    for days in days_ago:
        when = clock.now() - timedelta(days=days)
        exchange_log.write({"id": f"x{days}", "time": when.isoformat(), "system": "xero"})
    return exchange_log


def logged_ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def test_the_scheduled_prune_takes_only_old_finished_events(db: DbEngine, tmp_path: Path) -> None:
    clock = FrozenClock()
    engine = history(db, clock)
    before = statuses(db)
    assert before["delivered"] >= 2 and before["dead"] and before["retrying"]
    assert before["pending"]
    exchange_log = log_lines(tmp_path / "http.jsonl", clock, [30, 20, 13, 1])

    leader = LeaderLock(db)  # on PostgreSQL an advisory lock: released below for the next test
    try:
        # 150 days: the first deliveries (200 days old) go, the one 100 days old stays
        scheduler = SyncScheduler(
            with_retention(engine, {"events": "150d", "http_log": "14d"}),
            leader,
            exchange_log=exchange_log,
        )
        scheduler._retain()
        after = statuses(db)
        recent = before["delivered"] - engine.old_deliveries  # type: ignore[attr-defined]
        assert recent >= 1 and after["delivered"] == recent
        assert {k: v for k, v in after.items() if k != "delivered"} == {
            k: v for k, v in before.items() if k != "delivered"
        }
        assert logged_ids(tmp_path / "http.jsonl") == ["x13", "x1"]

        # 30 days: every delivered event is older now, and so is every shadow write (phase
        # 3 read the draft invoices 100 days ago); dead, retrying and pending still stay
        SyncScheduler(with_retention(engine, {"events": "30d"}), leader)._retain()
        final = statuses(db)
        assert "delivered" not in final and "shadow" not in final
        assert final == {k: v for k, v in before.items() if k not in ("delivered", "shadow")}
    finally:
        leader.release()


def test_retention_is_on_by_default_and_off_prunes_nothing(db: DbEngine, tmp_path: Path) -> None:
    clock = FrozenClock()
    engine = history(db, clock)
    before = statuses(db)
    path = tmp_path / "http.jsonl"
    exchange_log = log_lines(path, clock, [400, 200, 1])
    leader = LeaderLock(db)
    try:
        off = SyncScheduler(with_retention(engine, "off"), leader, exchange_log=exchange_log)
        off._retain()  # even if asked: nothing to apply
        assert statuses(db) == before
        assert logged_ids(path) == ["x400", "x200", "x1"]

        default = SyncScheduler(engine, leader, exchange_log=exchange_log)
        assert engine.map.retention.events == timedelta(days=90)
        assert engine.map.retention.http_log == timedelta(days=14)
        default._retain()
        assert "delivered" not in statuses(db)  # all 100 days old or more
        assert logged_ids(path) == ["x1"]

        # the service schedules the job unless the map turns retention off
        assert "retention" in job_ids(default)
        assert "retention" not in job_ids(off)
    finally:
        leader.release()


def job_ids(scheduler: SyncScheduler) -> set[str]:
    scheduler.start()
    try:
        return {job["id"] for job in scheduler.jobs()}
    finally:
        scheduler.scheduler.remove_all_jobs()
        scheduler.shutdown()


def test_the_exchange_log_prunes_by_age_and_keeps_unreadable_lines(tmp_path: Path) -> None:
    clock = FrozenClock()
    path = tmp_path / "http.jsonl"
    exchange_log = log_lines(path, clock, [20, 15])
    with path.open("a") as fh:
        fh.write("not json\n")
    exchange_log.write({"id": "late", "time": (clock.now() - timedelta(days=30)).isoformat()})
    assert exchange_log.prune(clock.now() - timedelta(days=14)) == 2
    lines = path.read_text().splitlines()
    assert lines[0] == "not json" and json.loads(lines[1])["id"] == "late"  # kept in order
    assert exchange_log.prune(clock.now() - timedelta(days=14)) == 0
    assert ExchangeLog(tmp_path / "none.jsonl", clock).prune(datetime.now().astimezone()) == 0
