"""A copy edited by hand is noticed and put back (or reported, as the flow says)."""

from __future__ import annotations

from typing import Any

import pytest

from sync_core.map.model import RecordRef
from tests.unit.engine.support import TO_XERO, World, agency_map

CONTACT = RecordRef(system="xero", record_type="contact")


def drift_setting(setting: str) -> Any:
    def edit(data: dict[str, Any]) -> None:
        for flow in data["flows"]:
            if flow["name"] == TO_XERO:
                flow["drift"] = setting

    return edit


def synced_world(setting: str = "revert") -> World:
    world = World(agency_map(phase_states={2: "planned"}, edit=drift_setting(setting)))
    world.add_deal(1, "Acme Ltd", person_email="jane@acme.example")
    world.poll_deals()
    world.engine.drain()
    return world


def contact(world: World) -> Any:
    return next(r for r in world.xero.records("contact") if r.fields.get("ContactNumber") == "PD-1")


def test_handoffs_own_writes_are_not_drift() -> None:
    world = synced_world()
    report = world.engine.check_drift(CONTACT)
    assert report.records == 1 and report.reverted == [] and report.reported == []


def test_a_hand_edit_is_put_back_and_logged() -> None:
    world = synced_world()
    world.xero.edit("contact", contact(world).external_id, Name="Acme Limited")

    report = world.engine.check_drift(CONTACT)
    assert report.reverted == ["PD-1"]
    world.engine.drain()
    assert contact(world).fields["Name"] == "Acme Ltd"
    (action,) = [a for a in world.rows("actions") if a.action == "drift revert"]
    assert "Name was 'Acme Limited', Handoff wrote 'Acme Ltd'" in (action.reason or "")
    # Reading back its own revert is not drift again.
    assert world.engine.check_drift(CONTACT).reverted == []


@pytest.mark.parametrize(("setting", "reported"), [("report", ["PD-1"]), ("ignore", [])])
def test_report_and_ignore_leave_the_record_alone(setting: str, reported: list[str]) -> None:
    world = synced_world(setting)
    world.xero.edit("contact", contact(world).external_id, Name="Acme Limited")
    report = world.engine.check_drift(CONTACT)
    world.engine.drain()
    assert report.reverted == [] and report.reported == reported
    assert contact(world).fields["Name"] == "Acme Limited"


def test_a_write_on_its_way_is_not_drift() -> None:
    world = synced_world()
    world.crm.edit("deal", "1", org_name="Acme Group")
    world.poll_deals()  # a new event, not delivered yet
    world.xero.edit("contact", contact(world).external_id, Name="Acme Limited")
    assert world.engine.check_drift(CONTACT).reverted == []


def test_a_value_the_vendor_keeps_rewriting_is_reverted_once_then_reported() -> None:
    world = synced_world()
    world.xero.edit("contact", contact(world).external_id, Name="ACME LTD (Xero style)")
    assert world.engine.check_drift(CONTACT).reverted == ["PD-1"]
    world.engine.drain()
    # The vendor normalises the name again after our revert.
    world.xero.edit("contact", contact(world).external_id, Name="ACME LTD (Xero style)")
    report = world.engine.check_drift(CONTACT)
    assert report.reverted == [] and report.reported == ["PD-1"]
    assert [a.action for a in world.rows("actions") if a.action.startswith("drift")] == [
        "drift revert",
        "drift persists",
    ]
