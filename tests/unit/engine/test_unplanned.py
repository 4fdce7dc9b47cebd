"""A record a flow cannot plan is never dropped: a dead event of its own, one alert per flow
and cause, and a Retry that plans it again with the map loaded then."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine
from structlog.testing import capture_logs

from connectors.base import Connector, Page, Transient
from sync_core.engine import Engine
from sync_core.map.model import IntegrationMap
from sync_core.operations import retry_alert
from sync_core.scheduler import LeaderLock, SyncScheduler
from sync_core.store.models import EventStatus
from tests.unit.engine.support import DEAL, TO_ASANA, TO_XERO, World, agency_map


def _xero_name(template: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        flow = next(f for f in data["flows"] if f["name"] == TO_XERO)
        flow["fields"]["Name"] = template

    return edit


def _with_map(world: World, integration_map: IntegrationMap) -> Engine:
    """The same store and systems, run with another map (the map was edited and reloaded)."""
    return Engine(
        integration_map,
        world.uow_factory,
        world.engine.connectors,
        world.clock,
        world.sink,
        worker_id="unit-worker",
    )


def _broken_world() -> World:
    world = World(agency_map(edit=_xero_name("{{ value / 0 }}")))
    world.add_deal(100, "Acme Ltd")
    world.add_deal(101, "Globex")
    return world


def test_a_failing_mapping_becomes_a_dead_mapping_event_with_one_alert() -> None:
    world = _broken_world()

    report = world.poll_deals()

    assert report.error is None and report.dead == 2
    dead = world.events(TO_XERO)
    assert [e.status for e in dead] == [EventStatus.DEAD.value] * 2
    first = dead[0]
    assert first.last_error_kind == "mapping"
    assert first.canonical_id == "PD-100"
    assert "field Name" in (first.last_error_message or "")
    assert "division by zero" in (first.last_error_message or "")
    assert first.payload["expression"] == "{{ value / 0 }}"
    assert first.payload["source_record"]["fields"]["org_name"] == "Acme Ltd"
    # The other flow from the same records planned as usual, and the cursor moved on.
    assert len(world.events(TO_ASANA)) == 2
    with world.uow_factory() as uow:
        assert uow.cursors.get("pipedrive", "deal") is not None
    (alert,) = world.rows("alerts")
    assert alert.group_key == f"flow:{TO_XERO}:mapping"
    assert alert.count == 2
    assert [n.change for n in world.sink.notices] == ["raised", "grouped"]
    # Nothing goes to Xero.
    world.engine.drain()
    assert world.xero.records("contact") == []


def test_the_same_record_read_again_makes_no_second_dead_event() -> None:
    world = _broken_world()
    world.poll_deals()
    with world.uow_factory() as uow:
        uow.cursors.put("pipedrive", "deal", None, world.clock.now())
        uow.commit()

    report = world.poll_deals()

    assert report.dead == 0 and report.outcomes["unchanged"] >= 2
    assert len(world.events(TO_XERO)) == 2


def test_retry_dead_plans_again_with_the_fixed_map_and_delivers() -> None:
    world = _broken_world()
    world.poll_deals()
    fixed = _with_map(world, agency_map(edit=_xero_name("{{ org_name }} ({{ value }})")))

    assert fixed.retry_dead() == 2

    events = world.events(TO_XERO)
    assert [e.status for e in events] == [EventStatus.PENDING.value] * 2
    assert events[0].payload["Name"] == "Acme Ltd (18000)"
    assert fixed.drain().dead == 0
    names = sorted(r.fields["Name"] for r in world.xero.records("contact"))
    assert names == ["Acme Ltd (18000)", "Globex (18000)"]
    assert {e.status for e in world.events(TO_XERO)} == {EventStatus.DELIVERED.value}


def test_a_retry_whose_mapping_still_fails_dies_again_with_the_new_message() -> None:
    world = _broken_world()
    world.poll_deals()
    (alert,) = world.rows("alerts")
    still_broken = agency_map(edit=_xero_name('{{ value + "x" }}'))

    with world.uow_factory() as uow:
        requeued = retry_alert(
            uow, alert.id, actor="U1", now=world.clock.now(), integration_map=still_broken
        )
        uow.commit()

    assert requeued == []
    events = world.events(TO_XERO)
    assert {e.status for e in events} == {EventStatus.DEAD.value}
    assert events[0].payload["expression"] == '{{ value + "x" }}'
    assert "TypeError" in (events[0].last_error_message or "")
    (alert,) = world.rows("alerts")  # the same alert, not a second one
    assert alert.count == 2


def test_a_retry_of_a_record_the_map_now_filters_out_sends_nothing() -> None:
    world = _broken_world()
    world.poll_deals()

    def filtered(data: dict[str, Any]) -> None:
        next(f for f in data["flows"] if f["name"] == TO_XERO)["when"] = "status == 'lost'"

    assert _with_map(world, agency_map(edit=filtered)).retry_dead() == 0

    assert {e.status for e in world.events(TO_XERO)} == {EventStatus.SUPERSEDED.value}


def test_an_unexpected_error_on_one_record_quarantines_it_and_the_page_goes_on() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.add_deal(101, "Globex")
    target_of = world.engine.planner.identity.target_of

    def breaks_on_acme(uow: Any, flow: Any, entity: Any, canonical_id: str, record: Any) -> Any:
        if canonical_id == "PD-100" and flow.name == TO_XERO:
            raise KeyError("ContactID")
        return target_of(uow, flow, entity, canonical_id, record)

    world.engine.planner.identity.target_of = breaks_on_acme  # type: ignore[method-assign]

    report = world.poll_deals()

    assert report.error is None and report.dead == 1
    acme, globex = world.events(TO_XERO)
    assert (acme.status, acme.last_error_kind) == (EventStatus.DEAD.value, "internal")
    assert acme.last_error_message == "KeyError: 'ContactID'"
    assert globex.status == EventStatus.PENDING.value
    assert len(world.events(TO_ASANA)) == 2
    world.engine.planner.identity.target_of = target_of  # type: ignore[method-assign]
    assert world.engine.retry_dead() == 1
    world.engine.drain()
    assert len(world.xero.records("contact")) == 2


class _BrokenReads:
    """A connector whose reading raises what it should have classified."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.system = inner.system

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_changed(self, record_type: str, cursor: str | None, limit: int = 100) -> Page:
        raise ValueError(f"cannot parse cursor {cursor!r}")


def test_an_unexpected_connector_error_is_classified_and_alerted_once() -> None:
    world = World(agency_map(), wrap={"pipedrive": _BrokenReads})
    world.add_deal(100, "Acme Ltd")

    reports = [world.engine.poll(DEAL) for _ in range(5)]

    assert all(r.error and r.error.startswith("schema_changed:") for r in reports)
    assert "ValueError: cannot parse cursor" in (reports[0].error or "")
    (alert,) = _poll_alerts(world)
    assert alert.count == 5
    assert [n.change for n in world.sink.notices if n.group_key.startswith("poll:")] == ["raised"]
    assert world.events() == []
    # the first start needed no CRM read: accounting and the project tool held no copy that a
    # live sync could duplicate, so the live phases started (test_golive covers a target with
    # copies whose source cannot be read: that phase waits)
    assert {r.id: r.state for r in world.rows("phases")} == {1: "live", 2: "live", 3: "parallel"}


def _poll_alerts(world: World) -> list[Any]:
    """The alerts of failed polls (the first start's go-live alerts aside)."""
    return [a for a in world.rows("alerts") if a.group_key.startswith("poll:")]


def test_a_field_name_with_a_space_is_read_through_record() -> None:
    world = World(agency_map(edit=_xero_name('{{ record["Client code"] }}')))
    world.add_deal(100, "Acme Ltd", **{"Client code": "AC-7"})

    assert world.poll_deals().dead == 0
    world.engine.drain()

    (contact,) = world.xero.records("contact")
    assert contact.fields["Name"] == "AC-7"


def test_a_failing_poll_job_logs_once_per_streak_not_once_per_run() -> None:
    world = World(agency_map())

    def store_gone(source: Any, **_: Any) -> Any:
        raise OSError("database is unreachable")

    world.engine.poll = store_gone  # type: ignore[method-assign]
    scheduler = SyncScheduler(world.engine, LeaderLock(create_engine("sqlite://")))
    with capture_logs() as logs:
        for _ in range(50):
            scheduler._poll(DEAL)

    failed = [entry for entry in logs if entry["event"] == "poll job failed"]
    assert len(failed) == 1
    assert failed[0]["error"] == "OSError: database is unreachable"


def test_a_source_failing_with_a_transient_error_alerts_once_when_it_lasts() -> None:
    class Down(_BrokenReads):
        def list_changed(self, record_type: str, cursor: str | None, limit: int = 100) -> Page:
            raise Transient("503 from the vendor")

    world = World(agency_map(), wrap={"pipedrive": Down})

    for _ in range(10):
        assert world.engine.poll(DEAL).error == "transient: 503 from the vendor"

    (alert,) = _poll_alerts(world)
    assert alert.group_key == "poll:pipedrive.deal:transient"
    assert [n.change for n in world.sink.notices if n.group_key.startswith("poll:")] == ["raised"]
