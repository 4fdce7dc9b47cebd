"""Delivery: upsert by canonical ID, bookkeeping, link back, and replay after a crash."""

from __future__ import annotations

import re
from datetime import timedelta

from connectors.base import IdField, UpsertItem
from sync_core.store.models import EventStatus
from tests.unit.engine.support import TO_ASANA, TO_XERO, LosesBookkeeping, World, agency_map


def test_delivery_creates_the_target_with_the_canonical_id_and_books_it() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.poll_deals()

    report = world.engine.deliver_due()

    assert (report.claimed, report.delivered, report.dead) == (2, 2, 0)
    (contact,) = world.xero.records("contact")
    assert contact.fields["ContactNumber"] == "PD-100"
    assert contact.fields["Name"] == "Acme Ltd"
    (project,) = world.asana.records("project")
    assert project.fields["Pipedrive deal"] == "PD-100"
    for flow, record in ((TO_XERO, contact), (TO_ASANA, project)):
        (event,) = world.events(flow)
        assert event.status == EventStatus.DELIVERED.value
        assert event.delivered_at == world.clock.now()
        assert event.target_external_id == record.external_id
        assert event.lease_owner is None
        attempts = [a for a in world.rows("attempts") if a.event_id == event.id]
        assert [(a.number, a.outcome) for a in attempts] == [(1, "delivered")]
        links = [
            link
            for link in world.rows("links")
            if link.canonical_id == "PD-100" and link.system == event.target_system
        ]
        assert [(link.external_id, link.url) for link in links] == [
            (record.external_id, record.url)
        ]
        assert record.url


def test_link_back_writes_the_project_address_into_the_deal() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.poll_deals()

    world.engine.drain()

    (project,) = world.asana.records("project")
    deal = world.crm.get("deal", "100")
    assert deal.fields["Asana project"] == project.url
    (back,) = world.events(f"{TO_ASANA}:link-back")
    assert back.status == EventStatus.DELIVERED.value
    assert (back.target_system, back.target_external_id) == ("pipedrive", "100")
    # The link back changes the deal; reading it again plans nothing new.
    assert world.poll_deals().outcomes == {"unchanged": 2}


def test_a_crash_between_the_vendor_write_and_the_bookkeeping_makes_no_duplicate() -> None:
    world = World(agency_map(), wrap={"xero": LosesBookkeeping})
    world.add_deal(100, "Acme Ltd")
    world.poll_deals()

    first = world.engine.deliver_due()
    (event,) = world.events(TO_XERO)
    assert first.retrying == 1 and event.status == EventStatus.RETRYING.value
    assert event.target_external_id is None  # the write happened but was not booked
    assert len(world.xero.records("contact")) == 1

    world.clock.advance(timedelta(minutes=1))
    world.engine.drain()

    (contact,) = world.xero.records("contact")
    (event,) = world.events(TO_XERO)
    assert event.status == EventStatus.DELIVERED.value
    assert event.target_external_id == contact.external_id


def test_a_worker_that_died_holding_the_lease_is_replayed_once_the_lease_expires() -> None:
    world = World(agency_map(), lease=timedelta(minutes=10))
    world.add_deal(100, "Acme Ltd")
    world.poll_deals()
    now = world.clock.now()
    # Another worker claims everything, writes to the vendors, and dies before booking.
    with world.uow_factory() as uow:
        claimed = list(uow.events.claim_due(now, now + timedelta(minutes=10), "doomed", 100))
        items = [
            (
                world.sandboxes[e.target_system],
                UpsertItem(
                    e.target_record_type,
                    IdField.parse(e.id_field) if e.id_field else None,
                    e.target_canonical_id,
                    dict(e.payload),
                    f"handoff-event-{e.id}",
                ),
            )
            for e in claimed
        ]
        uow.commit()
    for connector, item in items:
        connector.upsert_many([item])
    assert len(world.xero.records("contact")) == 1

    world.clock.advance(timedelta(minutes=5))
    assert world.engine.deliver_due().claimed == 0  # the lease still holds

    world.clock.advance(timedelta(minutes=5, seconds=1))
    report = world.engine.drain()

    assert report.delivered >= 2
    assert len(world.xero.records("contact")) == 1
    assert len(world.asana.records("project")) == 1
    assert {e.status for e in world.events()} == {EventStatus.DELIVERED.value}


def test_a_short_code_format_mints_a_typeable_id_carried_into_every_copy() -> None:
    def short_codes(data: dict[str, object]) -> None:
        data["entities"]["client"]["canonical_id"]["format"] = "C-{code}"  # type: ignore[index]

    world = World(agency_map(edit=short_codes))
    world.add_deal(100, "Acme Ltd")
    world.poll_deals()
    world.engine.drain()

    (contact,) = world.xero.records("contact")
    canonical_id = contact.fields["ContactNumber"]
    assert re.fullmatch(r"C-[0-9A-HJKMNP-TV-Z]{4}", canonical_id)
    (project,) = world.asana.records("project")
    assert project.fields["Pipedrive deal"] == canonical_id
    # The link back finds the deal through the minting record's link, not inside the ID.
    assert world.crm.get("deal", "100").fields["Asana project"] == project.url
    assert world.poll_deals().outcomes == {"unchanged": 2}
    assert {r.canonical_id for r in world.rows("entities")} == {canonical_id}
