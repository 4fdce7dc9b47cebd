"""Requeueing by hand, and the `where` read model."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync_core.queries import where
from sync_core.store.models import EventStatus
from tests.unit.engine.support import TO_ASANA, TO_XERO, World, agency_map


def _dead_world(*orgs: str) -> World:
    """Xero is down long enough for every contact event to die."""
    world = World(agency_map())
    for index, org in enumerate(orgs):
        world.add_deal(100 + index, org)
    world.poll_deals()
    world.xero.fault("server_error", times=4 * len(orgs))
    world.engine.drain()
    for minutes in (1, 5, 30):
        world.clock.advance(timedelta(minutes=minutes))
        world.engine.drain()
    assert {e.status for e in world.events(TO_XERO)} == {EventStatus.DEAD.value}
    return world


def test_retry_event_requeues_one_dead_event_which_then_delivers() -> None:
    world = _dead_world("Acme Ltd")
    (event,) = world.events(TO_XERO)

    assert world.engine.retry_event(event.id, actor="U0ADMIN1")

    (event,) = world.events(TO_XERO)
    assert event.status == EventStatus.PENDING.value
    assert event.next_attempt_at == world.clock.now()
    (action,) = world.rows("actions")
    assert (action.actor, action.action, action.subject) == (
        "U0ADMIN1",
        "retry",
        f"event:{event.id}",
    )
    assert world.engine.drain().delivered == 1
    assert len(world.xero.records("contact")) == 1
    # A delivered event is not failed: nothing to requeue.
    assert not world.engine.retry_event(event.id)
    with pytest.raises(LookupError):
        world.engine.retry_event(99_999)


def test_retry_dead_requeues_every_dead_event() -> None:
    world = _dead_world("Acme Ltd", "Globex")

    assert world.engine.retry_dead() == 2

    assert world.engine.drain().delivered == 2
    assert {e.status for e in world.events(TO_XERO)} == {EventStatus.DELIVERED.value}
    assert world.engine.retry_dead() == 0


def _synced_world() -> World:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.add_deal(101, "Globex Corporation")
    world.add_deal(102, "Initech", status="open")
    world.engine.sync_once()
    return world


@pytest.mark.parametrize("query", ["acme", "ACME", "cme l", "PD-100", "pd-100"])
def test_where_finds_acme_by_name_or_canonical_id(query: str) -> None:
    world = _synced_world()

    with world.uow_factory() as uow:
        result = where(uow, world.map, query)

    (view,) = result.matches
    assert view.canonical_id == "PD-100"
    assert view.display_name == "Acme Ltd"
    systems = {(r.system, r.record_type): r for r in view.records}
    assert set(systems) == {("pipedrive", "deal"), ("xero", "contact"), ("asana", "project")}
    assert systems[("xero", "contact")].url == world.xero.records("contact")[0].url
    assert view.missing_in == []
    latest = {e.flow: e.status for e in view.latest_events}
    assert latest == {
        TO_XERO: "delivered",
        TO_ASANA: "delivered",
        f"{TO_ASANA}:link-back": "delivered",
    }
    assert view.source_of_truth[0].startswith("pipedrive.deal until")


def test_where_finds_a_customer_by_any_of_its_systems_own_ids() -> None:
    world = _synced_world()
    contact = next(r for r in world.xero.records("contact") if r.fields["Name"] == "Acme Ltd")
    project = next(r for r in world.asana.records("project") if "Acme" in r.fields["name"])

    for query in (contact.external_id, f" {project.external_id} "):
        with world.uow_factory() as uow:
            (view,) = where(uow, world.map, query).matches
        assert view.canonical_id == "PD-100"


def test_where_shows_only_the_newest_event_of_each_flow() -> None:
    world = _synced_world()
    world.crm.edit("deal", "100", org_name="Acme Group")
    world.poll_deals()

    with world.uow_factory() as uow:
        (view,) = where(uow, world.map, "PD-100").matches

    xero = [e for e in view.latest_events if e.flow == TO_XERO]
    assert [(e.status, e.payload["Name"]) for e in xero] == [("pending", "Acme Group")]


def test_where_suggests_close_names_for_a_typo() -> None:
    world = _synced_world()

    with world.uow_factory() as uow:
        result = where(uow, world.map, "acmee")

    assert result.matches == []
    assert "Acme Ltd" in result.suggestions


def test_where_finds_nothing_for_a_stranger() -> None:
    world = _synced_world()
    with world.uow_factory() as uow:
        result = where(uow, world.map, "zzyzx")
    assert result.matches == [] and result.suggestions == []
