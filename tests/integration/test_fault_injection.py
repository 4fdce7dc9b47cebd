"""Every fault a vendor can throw at Handoff ends with each event delivered or alerted.

The demo map runs through the real clients against the three HTTP sandboxes on a frozen clock;
a fault is armed on accounting's contact writes, the engine syncs and the clock moves through
the retry schedule. Afterwards every planned event is delivered or dead with an alert, and no
canonical ID exists twice in the target.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.bootstrap import Runtime, build_runtime
from bot.settings import Settings
from connectors.clock import FrozenClock
from connectors.faults import ALL_FAULTS
from sync_core.alerts import CollectingSink
from sync_core.store.models import AlertRow, EventRow
from tests.support.demo_map import DRAFT_INVOICE
from tests.support.demo_map import demo_map as write_demo_map

FLOW = "won-deal-to-xero-contact"
WON_DEALS = 15  # in the agency seed


@pytest.fixture
def demo_map(tmp_path: Path) -> Path:
    """The demo map with a short client timeout, so the timeout fault times out quickly; its
    contacts alone (a draft invoice waits for its contact, and dies with it)."""
    return write_demo_map(tmp_path, without=(DRAFT_INVOICE,), timeout=0.5)


@pytest.fixture
def runtime(database_url: str, demo_map: Path) -> Iterator[tuple[Runtime, CollectingSink]]:
    sink = CollectingSink()
    settings = Settings.from_env({}, map_path=demo_map, database_url=database_url)
    rt = build_runtime(settings, alert_sink=sink, clock=FrozenClock(), env={})
    yield rt, sink
    rt.close()


def run_through_retries(rt: Runtime, rounds: int = 6) -> None:
    clock = rt.clock
    assert isinstance(clock, FrozenClock)
    for _ in range(rounds):
        rt.engine.sync_once()
        clock.advance(timedelta(minutes=31))


@dataclass(frozen=True)
class Alert:
    id: int
    group_key: str
    count: int


def outcome(rt: Runtime) -> tuple[Counter[str], list[Alert], Counter[str]]:
    with rt.uow_factory() as uow:
        assert uow.session is not None
        events = uow.session.query(EventRow).filter(EventRow.flow == FLOW).all()
        alerts = [Alert(a.id, a.group_key, a.count) for a in uow.session.query(AlertRow)]
        statuses = Counter(e.status for e in events)
        by_canonical = Counter(e.canonical_id for e in events if e.status == "delivered")
    xero = rt.sandboxes["xero"].demo.sandbox
    numbers = Counter(c.get("ContactNumber") for c in xero.contacts() if c.get("ContactNumber"))
    assert all(count == 1 for count in by_canonical.values())
    return statuses, alerts, numbers


@pytest.mark.parametrize("kind", ALL_FAULTS)
def test_every_event_ends_delivered_or_alerted(
    runtime: tuple[Runtime, CollectingSink], kind: str
) -> None:
    rt, sink = runtime
    xero = rt.sandboxes["xero"].demo.sandbox
    # Enough firings to outlast the client's in-call retries on the first pass.
    xero.faults.add(kind, times=4, path="/Contacts")
    run_through_retries(rt)

    statuses, alerts, numbers = outcome(rt)
    assert sum(statuses.values()) == WON_DEALS, statuses
    assert set(statuses) <= {"delivered", "dead"}, statuses
    dead = statuses.get("dead", 0)
    if dead:
        alerted = {notice.alert_id for notice in sink.notices}
        assert alerts and {a.id for a in alerts} <= alerted
        assert sum(a.count for a in alerts if a.group_key.startswith("xero:")) == dead
    # Never a duplicate: each canonical ID is on exactly one Xero contact (a write whose
    # answer was lost or garbled may have landed, so there can be more IDs than deliveries).
    assert all(count == 1 for count in numbers.values()), numbers
    assert len(numbers) >= statuses.get("delivered", 0)

    # Once the vendor is healthy, Retry on the dead ones finishes the job without duplicates.
    xero.faults.clear()
    rt.engine.retry_dead()
    rt.engine.drain()
    statuses, _, numbers = outcome(rt)
    assert statuses == Counter({"delivered": WON_DEALS})
    assert sorted(numbers.values()) == [1] * WON_DEALS


def test_a_permanent_outage_alerts_every_event_and_loses_none(
    runtime: tuple[Runtime, CollectingSink],
) -> None:
    rt, _sink = runtime
    xero = rt.sandboxes["xero"].demo.sandbox
    # the contacts typed by hand, linked and stamped at first start, before the outage
    twins = Counter(c["ContactNumber"] for c in xero.contacts() if c.get("ContactNumber"))
    assert len(twins) == 3
    xero.faults.add("server_error", times=10_000, path="/Contacts")
    run_through_retries(rt)

    statuses, alerts, numbers = outcome(rt)
    assert statuses == Counter({"dead": WON_DEALS})
    assert numbers == twins  # nothing written while Xero answers with errors
    # One cause, one grouped alert with a count, not fifteen messages.
    xero_alerts = [a for a in alerts if a.group_key.startswith("xero:")]
    assert len(xero_alerts) == 1 and xero_alerts[0].count == WON_DEALS

    xero.faults.clear()
    rt.engine.retry_dead()
    rt.engine.drain()
    statuses, _, numbers = outcome(rt)
    assert statuses == Counter({"delivered": WON_DEALS})
    assert len(numbers) == WON_DEALS


def test_a_create_that_dies_half_way_is_finished_on_retry_not_duplicated(
    runtime: tuple[Runtime, CollectingSink],
) -> None:
    """Asana needs three calls to create a project with its canonical ID (create, attach
    the field, set it). A failure after the first one must not leave a second project."""
    rt, _sink = runtime
    asana = rt.sandboxes["asana"].demo.sandbox
    asana.faults.add("server_error", times=1, path="/addCustomFieldSetting")
    run_through_retries(rt, rounds=2)

    with rt.uow_factory() as uow:
        assert uow.session is not None
        statuses = Counter(
            e.status
            for e in uow.session.query(EventRow).filter(
                EventRow.flow == "won-deal-to-asana-project"
            )
        )
    assert statuses == Counter({"delivered": WON_DEALS})
    made = [gid for gid, p in asana.state.projects.items() if "old board" not in p["name"]]
    assert len(made) == WON_DEALS  # one project per won deal, none left half-made
    stamped = {asana.value("project", gid, "Pipedrive deal") for gid in made}
    assert len(stamped) == WON_DEALS and None not in stamped


@pytest.mark.parametrize("kind", ["timeout_after_write", "reset_after_write"])
def test_a_project_made_although_its_answer_was_lost_is_delivered_once(
    runtime: tuple[Runtime, CollectingSink], kind: str
) -> None:
    """Asana made the project but its answer never arrived: the POST is not re-sent, the
    event is retried, and the retry finds the project by the mark its first call carried."""
    rt, _sink = runtime
    asana = rt.sandboxes["asana"].demo.sandbox
    asana.faults.add(kind, times=3, path="/projects", method="POST", delay=0.8)
    run_through_retries(rt, rounds=2)

    with rt.uow_factory() as uow:
        assert uow.session is not None
        statuses = Counter(
            e.status
            for e in uow.session.query(EventRow).filter(
                EventRow.flow == "won-deal-to-asana-project"
            )
        )
    assert statuses == Counter({"delivered": WON_DEALS})
    assert kind in asana.faults.fired
    made = [gid for gid, p in asana.state.projects.items() if "old board" not in p["name"]]
    assert len(made) == WON_DEALS  # one project per won deal
    stamped = {asana.value("project", gid, "Pipedrive deal") for gid in made}
    assert len(stamped) == WON_DEALS and None not in stamped
