"""The scheduler polls each source and runs the delivery loop on its own."""

from __future__ import annotations

import threading

from sqlalchemy import Engine as DbEngine

from connectors.clock import SystemClock
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine
from sync_core.scheduler import LeaderLock, SyncScheduler, poll_interval
from tests.support.agency import agency_engine, in_process_map


def test_jobs_poll_and_deliver_without_being_asked(db: DbEngine) -> None:
    clock = SystemClock()
    integration_map = in_process_map()
    engine, connectors = agency_engine(db, clock, integration_map)
    delivered = threading.Event()
    total = {"delivered": 0}

    def on_report(kind: str, report: object) -> None:
        total["delivered"] += getattr(report, "delivered", 0)
        if total["delivered"] >= 30:
            delivered.set()

    scheduler = SyncScheduler(engine, LeaderLock(db), on_report=on_report)
    scheduler.start()
    try:
        assert {job["id"] for job in scheduler.jobs()} == {
            "poll:pipedrive.deal",
            "poll:xero.invoice",
            "deliver",
            "compare",
            "drift:xero.contact",
            "drift:asana.project",
            "drift:mailchimp.member",
            "retention",
        }
        # The first delivery pass may run before the first poll planned anything; the next
        # one, 5 s later, delivers then.
        assert delivered.wait(timeout=30), total
    finally:
        scheduler.shutdown()
    xero_contacts = [
        r for r in connectors["xero"].records("contact") if r.fields.get("ContactNumber")
    ]
    assert len(xero_contacts) == 15


def test_each_source_polls_on_its_flows_shortest_schedule() -> None:
    integration_map = in_process_map()
    engine = Engine(integration_map, None, {}, SystemClock(), CollectingSink())  # type: ignore[arg-type]
    deal = integration_map.flows[0].source
    assert deal is not None
    assert poll_interval(engine, deal).total_seconds() == 60
