"""Two-way fields: two legs, a loop guard, and the map's conflict rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sync_core.map.model import RecordRef
from tests.unit.engine.support import TO_XERO, World, agency_map

CONTACT = RecordRef(system="xero", record_type="contact")
TO_CONTACT = "billing-email:pipedrive→xero"
TO_DEAL_EMAIL = "billing-email:xero→pipedrive"


def with_two_way(conflict: str, report: str | None = None) -> Any:
    rule = {"conflict": conflict, **({"report": report} if report else {})}

    def edit(data: dict[str, Any]) -> None:
        for flow in data["flows"]:
            if flow["name"] == TO_XERO:
                flow["fields"].pop("EmailAddress")
        data["flows"].append(
            {
                "name": "billing-email",
                "phase": 1,
                "between": ["pipedrive.deal", "xero.contact"],
                "fields": {"person_email <-> EmailAddress": rule},
            }
        )

    return edit


def world_for(conflict: str, report: str | None = None) -> World:
    world = World(
        agency_map(phase_states={2: "planned", 3: "planned"}, edit=with_two_way(conflict, report))
    )
    world.add_deal(1, "Acme Ltd", person_email="a@acme.example")
    world.poll_deals()
    world.engine.drain()
    return world


def contact(world: World) -> Any:
    return next(r for r in world.xero.records("contact") if r.fields.get("ContactNumber") == "PD-1")


def test_each_side_flows_to_the_other_and_echoes_stop() -> None:
    world = world_for("last_write_wins")
    assert contact(world).fields["EmailAddress"] == "a@acme.example"

    # Our own write into Xero comes back as a change: it is not sent back.
    report = world.engine.poll(CONTACT)
    assert report.outcomes["echo"] == 1
    assert world.events(TO_DEAL_EMAIL) == []

    # Accounts change the billing email: it reaches the deal, and that write is not echoed.
    world.xero.edit("contact", contact(world).external_id, EmailAddress="billing@acme.example")
    world.engine.poll(CONTACT)
    world.engine.drain()
    assert world.crm.get("deal", "1").fields["person_email"] == "billing@acme.example"
    report = world.poll_deals()
    assert report.outcomes["echo"] == 1
    assert len(world.events(TO_CONTACT)) == 1


def both_sides_change(world: World) -> None:
    world.crm.edit("deal", "1", person_email="sales@acme.example")
    world.poll_deals()  # planned, not yet delivered
    world.xero.edit("contact", contact(world).external_id, EmailAddress="accounts@acme.example")
    world.engine.poll(CONTACT)
    world.engine.drain()


def test_last_write_wins() -> None:
    world = world_for("last_write_wins")
    both_sides_change(world)
    assert world.crm.get("deal", "1").fields["person_email"] == "accounts@acme.example"
    assert contact(world).fields["EmailAddress"] == "accounts@acme.example"
    assert [e.status for e in world.events(TO_CONTACT)][-1] == "superseded"


@pytest.mark.parametrize(
    ("conflict", "winner"),
    [
        ("source_wins", "sales@acme.example"),
        ("target_wins", "accounts@acme.example"),
    ],
)
def test_one_side_wins(conflict: str, winner: str) -> None:
    world = world_for(conflict)
    both_sides_change(world)
    world.poll_deals()
    world.engine.drain()
    assert contact(world).fields["EmailAddress"] == winner
    assert world.crm.get("deal", "1").fields["person_email"] == winner


def test_manual_conflict_holds_both_changes_and_alerts() -> None:
    world = world_for("manual")
    both_sides_change(world)
    held = world.events(TO_CONTACT)[-1:] + world.events(TO_DEAL_EMAIL)
    assert [e.status for e in held] == ["dead", "dead"]
    assert {e.last_error_kind for e in held} == {"conflict"}
    assert world.sink.notices
    # Nothing was written either way until a person decides.
    assert world.crm.get("deal", "1").fields["person_email"] == "sales@acme.example"
    assert contact(world).fields["EmailAddress"] == "accounts@acme.example"


def lost_edit_notices(world: World) -> list[Any]:
    return [n for n in world.sink.notices if n.group_key.startswith("conflict")]


@pytest.mark.parametrize(
    ("conflict", "lost", "won", "rule"),
    [
        (
            "last_write_wins",
            "the edit in pipedrive.deal was overwritten (person_email 'sales@acme.example' "
            "lost to EmailAddress 'accounts@acme.example')",
            "xero.contact wins",
            "last_write_wins (the change seen last)",
        ),
        (
            "source_wins",
            "the edit in xero.contact was overwritten (EmailAddress 'accounts@acme.example' "
            "lost to person_email 'sales@acme.example')",
            "pipedrive.deal wins",
            "source_wins (the first system of between)",
        ),
    ],
)
def test_a_lost_edit_is_alerted_with_both_values_and_the_rule(
    conflict: str, lost: str, won: str, rule: str
) -> None:
    world = world_for(conflict)
    both_sides_change(world)

    (notice,) = lost_edit_notices(world)
    assert notice.change == "raised" and notice.event_ids == ()
    assert lost in notice.summary and f"{won} by the rule {rule}" in notice.summary
    with world.uow_factory() as uow:
        (kept,) = [a for a in uow.actions.recent() if a.action == "lost_edit"]
    assert kept.subject == "flow:billing-email" and kept.reason == notice.summary


def test_lost_edits_can_wait_for_the_daily_digest() -> None:
    from sync_core.conflict_digest import send_conflict_digest

    world = world_for("last_write_wins", report="digest")
    both_sides_change(world)
    assert lost_edit_notices(world) == []  # nothing at once

    (digest,) = send_conflict_digest(world.uow_factory, world.map, world.clock, world.sink)
    assert digest.summary.startswith("1 edit(s) lost in two-way conflicts of billing-email")
    assert "person_email 'sales@acme.example' lost to EmailAddress" in digest.summary
    assert lost_edit_notices(world) == [digest]

    world.clock.advance(timedelta(days=2))  # nothing lost since: no digest
    assert send_conflict_digest(world.uow_factory, world.map, world.clock, world.sink) == []


def test_no_lost_edit_when_a_side_wins_without_a_conflict() -> None:
    world = world_for("last_write_wins")
    world.crm.edit("deal", "1", person_email="sales@acme.example")
    world.poll_deals()
    world.engine.drain()
    world.engine.poll(CONTACT)
    assert lost_edit_notices(world) == []
