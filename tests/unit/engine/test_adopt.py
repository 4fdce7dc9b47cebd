"""Adopting a hand-made record before cutover: the delivery updates it, never duplicates it."""

from __future__ import annotations

import pytest

from sync_core.linking import LinkError, adopt_record
from sync_core.map.model import RecordRef
from sync_core.parallel import DIFFERS, MISSING, compare_phase
from sync_core.phases import promote
from tests.unit.engine.support import World, agency_map

CONTACT = RecordRef(system="xero", record_type="contact")


def compare(world: World) -> list[str]:
    with world.uow_factory() as uow:
        report = compare_phase(uow, world.map, world.sandboxes, 1, now=world.clock.now())
    return [c.outcome for c in report.comparisons]


def adopt(world: World, canonical_id: str, external_id: str) -> None:
    with world.uow_factory() as uow:
        adopt_record(
            uow,
            world.map,
            world.sandboxes,
            canonical_id,
            CONTACT,
            external_id,
            actor="U0ADMIN1",
            now=world.clock.now(),
        )
        uow.commit()


def test_an_adopted_record_is_updated_at_cutover_not_duplicated() -> None:
    world = World(agency_map(phase_states={1: "parallel", 2: "planned"}))
    world.add_deal(1, "Acme Ltd", person_email="jane@acme.example")
    world.xero.add(
        "contact",
        {"Name": "Acme Limited", "EmailAddress": "accounts@acme.example"},
        external_id="hand-1",
    )
    world.poll_deals()
    assert compare(world) == [MISSING]

    adopt(world, "PD-1", "hand-1")
    assert world.xero.get("contact", "hand-1").fields["ContactNumber"] == "PD-1"
    assert compare(world) == [DIFFERS]

    with world.uow_factory() as uow:
        promote(
            uow,
            world.map,
            1,
            actor="U0ADMIN1",
            reason="cutover",
            now=world.clock.now(),
            override=True,
        )
        uow.commit()
    world.engine.drain()

    contacts = world.xero.records("contact")
    assert len(contacts) == 1
    assert contacts[0].fields["Name"] == "Acme Ltd"  # the CRM is the source of truth
    with world.uow_factory() as uow:
        assert [
            link.external_id for link in uow.links.for_entity("PD-1") if link.system == "xero"
        ] == ["hand-1"]


def test_adoption_refuses_what_would_break_one_record_per_customer() -> None:
    world = World(agency_map())
    world.add_deal(1, "Acme Ltd")
    world.add_deal(2, "Globex")
    world.add_deal(3, "Initech", status="open")  # a customer-to-be with no Xero contact yet
    world.poll_deals()
    world.engine.drain()  # phase 1 is live: PD-1 and PD-2 now have Xero contacts
    world.xero.add("contact", {"Name": "Acme Limited"}, external_id="hand-1")
    with pytest.raises(LinkError, match="linked to"):
        adopt(world, "PD-1", "hand-1")
    taken = next(
        r for r in world.xero.records("contact") if r.fields.get("ContactNumber") == "PD-2"
    )
    with pytest.raises(LinkError, match="belongs to PD-2"):
        adopt(world, "PD-3", taken.external_id)
    with pytest.raises(LinkError, match="no customer"):
        adopt(world, "PD-404", "hand-1")


def unlink(world: World, canonical_id: str) -> None:
    from sync_core.linking import unlink_record

    with world.uow_factory() as uow:
        unlink_record(
            uow,
            world.map,
            world.sandboxes,
            canonical_id,
            CONTACT,
            actor="U0ADMIN1",
            reason="wrong customer",
            now=world.clock.now(),
        )
        uow.commit()


@pytest.mark.parametrize("state", ["planned", "parallel", "live"])
def test_a_record_can_be_adopted_in_every_phase_state(state: str) -> None:
    world = World(agency_map(phase_states={1: state}))
    world.add_deal(1, "Acme Ltd", status="open")  # not won: no flow writes it
    world.poll_deals()
    world.xero.add("contact", {"Name": "Acme Limited"}, external_id="hand-1")
    adopt(world, "PD-1", "hand-1")
    assert world.xero.get("contact", "hand-1").fields["ContactNumber"] == "PD-1"


def test_unlink_undoes_a_wrong_link_so_the_right_record_can_be_adopted() -> None:
    world = World(agency_map())
    world.add_deal(1, "Acme Ltd")
    world.poll_deals()
    world.engine.drain()  # phase 1 is live: a second Acme made before anyone reconciled
    [made] = world.xero.records("contact")
    world.xero.add("contact", {"Name": "Acme Limited"}, external_id="hand-1")

    unlink(world, "PD-1")
    assert world.xero.get("contact", made.external_id).fields.get("ContactNumber") in (None, "")
    with pytest.raises(LinkError, match=r"PD-1 has no link in xero\.contact"):
        unlink(world, "PD-1")
    adopt(world, "PD-1", "hand-1")

    with world.uow_factory() as uow:
        xero_links = [
            link.external_id for link in uow.links.for_entity("PD-1") if link.system == "xero"
        ]
        actions = [(a.action, a.actor, a.reason) for a in uow.actions.recent("PD-1")]
    assert xero_links == ["hand-1"]
    assert ("unlink", "U0ADMIN1", "wrong customer") in actions
