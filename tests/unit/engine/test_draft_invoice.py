"""A won deal's draft invoice: a child entity's record written from its parent, found again by
the parent's canonical ID (``parent.id_field``), its contact filled in by ``link()`` when the
event is sent."""

from __future__ import annotations

from typing import Any

from sync_core.store.models import EventStatus
from tests.unit.engine.support import (
    TO_DRAFT_INVOICE,
    TO_XERO,
    World,
    agency_map,
    with_draft_invoice,
)


def test_a_won_deal_gets_one_draft_invoice_for_its_contact_and_value() -> None:
    world = World(agency_map(edit=with_draft_invoice))
    world.add_deal(100, "Acme Ltd", value=18000)
    world.poll_deals()
    world.engine.drain()

    (contact,) = world.xero.records("contact")
    (invoice,) = world.xero.records("invoice")
    assert invoice.fields["Reference"] == "PD-100"
    assert invoice.fields["Type"] == "ACCREC"
    assert invoice.fields["Contact"] == {"ContactID": contact.external_id}
    assert invoice.fields["LineItems"] == [
        {"Description": "Website Redesign", "Quantity": 1, "UnitAmount": 18000}
    ]
    (event,) = world.events(TO_DRAFT_INVOICE)
    assert (event.target_canonical_id, event.id_field) == ("PD-100", "Reference")
    # The planned payload keeps the marker; what was sent had the contact's id.
    assert event.payload["Contact"] == {"ContactID": {"$link": "xero.contact"}}
    links = [(k.system, k.record_type) for k in world.rows("links") if k.canonical_id == "PD-100"]
    assert ("xero", "invoice") in links


def _approved_invoice(world: World) -> str:
    """A won deal's draft invoice, written and then approved by accounts in Xero."""
    world.add_deal(100, "Acme Ltd", value=18000)
    world.poll_deals()
    world.engine.drain()
    (invoice,) = world.xero.records("invoice")
    world.xero.edit("invoice", invoice.external_id, Status="AUTHORISED")
    return invoice.external_id


def test_a_draft_invoice_is_written_once_and_a_later_deal_change_is_skipped_and_audited() -> None:
    world = World(agency_map(edit=with_draft_invoice))
    invoice_id = _approved_invoice(world)

    world.crm.update("deal", "100", {"value": 21000})
    outcomes = world.poll_deals()
    world.engine.drain()

    (invoice,) = world.xero.records("invoice")
    assert invoice.external_id == invoice_id and invoice.fields["Status"] == "AUTHORISED"
    assert invoice.fields["LineItems"][0]["UnitAmount"] == 18000  # as accounts approved it
    (event,) = world.events(TO_DRAFT_INVOICE)  # the create alone: nothing to die or alert
    assert event.status == EventStatus.DELIVERED.value
    assert outcomes.outcomes.get("create_only") == 1
    (skipped,) = [a for a in world.rows("actions") if a.action == "update skipped"]
    assert skipped.subject == "PD-100" and skipped.actor == "handoff"
    assert skipped.detail["flow"] == TO_DRAFT_INVOICE
    assert skipped.detail["target_external_id"] == invoice_id
    assert "updates: never" in (skipped.reason or "")
    # the contact, written by a flow that updates, follows the deal as before
    assert any(e.status == EventStatus.DELIVERED.value for e in world.events(TO_XERO))


def _updating(data: dict[str, Any]) -> None:
    with_draft_invoice(data)
    data["flows"][-1]["updates"] = "always"


def test_with_updates_always_the_same_invoice_follows_the_deal() -> None:
    world = World(agency_map(edit=_updating))
    invoice_id = _approved_invoice(world)

    world.crm.update("deal", "100", {"value": 21000})
    world.poll_deals()
    world.engine.drain()
    (invoice,) = world.xero.records("invoice")  # the same invoice, no second one
    assert invoice.external_id == invoice_id
    assert invoice.fields["LineItems"][0]["UnitAmount"] == 21000
    assert len(world.events(TO_DRAFT_INVOICE)) == 2
    assert [a for a in world.rows("actions") if a.action == "update skipped"] == []


def test_the_invoice_waits_for_the_contact_it_links_to() -> None:
    world = World(agency_map(edit=with_draft_invoice))
    world.add_deal(100, "Acme Ltd")
    world.poll_deals()
    world.xero.fault("server_error", times=1)  # the contact's write fails once

    world.engine.deliver_due()

    (contact_event,) = world.events(TO_XERO)
    (invoice_event,) = world.events(TO_DRAFT_INVOICE)
    assert contact_event.status == EventStatus.RETRYING.value
    assert invoice_event.status == EventStatus.RETRYING.value
    assert "xero.contact" in (invoice_event.last_error_message or "")
    assert world.xero.records("invoice") == []  # nothing sent without its contact

    assert invoice_event.next_attempt_at is not None
    world.clock.set(
        max(invoice_event.next_attempt_at, contact_event.next_attempt_at or world.clock.now())
    )
    world.engine.drain()
    (contact,) = world.xero.records("contact")
    (invoice,) = world.xero.records("invoice")
    assert invoice.fields["Contact"] == {"ContactID": contact.external_id}
    (invoice_event,) = world.events(TO_DRAFT_INVOICE)
    assert invoice_event.status == EventStatus.DELIVERED.value
