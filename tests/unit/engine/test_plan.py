"""Planning: which changed records become events, with what payload."""

from __future__ import annotations

from typing import Any

from sync_core.map.model import RecordRef
from sync_core.store.models import EventStatus
from tests.unit.engine.support import TO_ASANA, TO_XERO, World, agency_map

CONTACT = RecordRef(system="xero", record_type="contact")


def test_a_won_deal_makes_one_event_per_flow_with_the_mapped_payload() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd", title="Website Redesign", person_email="jane@acme.example")

    report = world.poll_deals()

    assert report.outcomes == {"queued": 2}
    (xero,) = world.events(TO_XERO)
    (asana,) = world.events(TO_ASANA)
    assert xero.payload == {"Name": "Acme Ltd", "EmailAddress": "jane@acme.example"}
    assert asana.payload == {"name": "Acme Ltd – Website Redesign", "notes": "Deal value 18000 GBP"}
    for event in (xero, asana):
        assert event.canonical_id == "PD-100"
        assert event.status == EventStatus.PENDING.value
        assert event.next_attempt_at == world.clock.now()
    assert xero.id_field == "ContactNumber"
    assert str(asana.id_field) == "custom_field:Pipedrive deal"
    assert len(world.events()) == 2


def test_when_filters_out_deals_that_are_not_won() -> None:
    world = World(agency_map())
    world.add_deal(101, "Initech", status="open")

    report = world.poll_deals()

    assert report.outcomes == {"filtered": 2}
    assert world.events() == []


def test_an_unchanged_mapped_payload_makes_no_new_event() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.poll_deals()
    # A field no flow maps changes: the record is read again, the payload is the same.
    world.crm.edit("deal", "100", stage_id=4)

    report = world.poll_deals()

    assert report.records == 1
    assert report.outcomes == {"unchanged": 2}
    assert len(world.events()) == 2


def test_an_unchanged_payload_after_delivery_makes_no_new_event() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.engine.sync_once()
    delivered = len(world.events())
    world.crm.edit("deal", "100", stage_id=4)

    report = world.poll_deals()

    assert report.outcomes == {"unchanged": 2}
    assert len(world.events()) == delivered


def test_a_changed_field_makes_a_new_event_and_supersedes_the_open_one() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.poll_deals()
    world.crm.edit("deal", "100", org_name="Acme Group Ltd")

    report = world.poll_deals()

    assert report.outcomes == {"queued": 2}
    older, newer = world.events(TO_XERO)
    assert older.status == EventStatus.SUPERSEDED.value
    assert newer.status == EventStatus.PENDING.value
    assert newer.payload["Name"] == "Acme Group Ltd"
    # Delivering now writes only the newest payload.
    world.engine.drain()
    (contact,) = world.xero.records("contact")
    assert contact.fields["Name"] == "Acme Group Ltd"


def _contact_flow(data: dict[str, Any]) -> None:
    data["flows"].append(
        {
            "name": "contact-tax-to-project",
            "phase": 1,
            "from": "xero.contact",
            "to": "asana.project",
            "fields": {"notes": "Tax number {{ TaxNumber }}"},
        }
    )


def test_a_copy_without_a_canonical_id_is_unlinked() -> None:
    world = World(agency_map(edit=_contact_flow))
    # Typed into accounting by hand: no ContactNumber, so no canonical ID to follow.
    world.xero.add("contact", {"Name": "Acme Limited", "ContactNumber": None}, external_id="c-1")

    report = world.engine.poll(CONTACT)

    assert report.outcomes == {"unlinked": 1}
    assert world.events() == []


def test_a_copy_carrying_its_canonical_id_is_planned_under_that_id() -> None:
    world = World(agency_map(edit=_contact_flow))
    world.xero.add(
        "contact", {"Name": "Acme Ltd", "ContactNumber": "PD-100", "TaxNumber": "GB1"}, "c-1"
    )

    report = world.engine.poll(CONTACT)

    assert report.outcomes == {"queued": 1}
    (event,) = world.events("contact-tax-to-project")
    assert event.canonical_id == "PD-100"
    assert event.payload == {"notes": "Tax number GB1"}


def test_an_invoice_whose_client_is_not_linked_yet_is_unlinked() -> None:
    world = World(agency_map(phase_states={3: "live"}))
    world.xero.add(
        "invoice", {"InvoiceNumber": "INV-1", "Status": "PAID", "Contact": {"ContactID": "c-9"}}
    )

    report = world.engine.poll(RecordRef(system="xero", record_type="invoice"))

    assert report.outcomes == {"unlinked": 1}
    assert world.events() == []


def test_flows_of_a_planned_phase_make_nothing() -> None:
    world = World(agency_map(phase_states={1: "planned", 2: "planned"}))
    world.add_deal(100, "Acme Ltd")

    report = world.poll_deals()

    assert report.outcomes == {"planned_phase": 2}
    assert world.events() == []
    assert world.rows("shadow_writes") == []
