"""Comparing a parallel period's shadow writes with what people typed by hand."""

from __future__ import annotations

from sync_core.parallel import DIFFERS, MATCH, MISSING, compare_phase
from tests.unit.engine.support import TO_XERO, World, agency_map


def test_shadow_writes_are_compared_with_the_hand_made_records() -> None:
    world = World(agency_map(phase_states={1: "parallel", 2: "planned"}))
    world.add_deal(1, "Acme Ltd", person_email="jane@acme.example")
    world.add_deal(2, "Globex", person_email="hank@globex.example")
    world.add_deal(3, "Initech", person_email="bill@initech.example")
    # Accounts typed two of them in by hand, with the canonical ID, one of them differently.
    world.xero.add(
        "contact",
        {"Name": "Acme Ltd", "EmailAddress": "jane@acme.example", "ContactNumber": "PD-1"},
    )
    world.xero.add(
        "contact",
        {"Name": "Globex Corp.", "EmailAddress": "hank@globex.example", "ContactNumber": "PD-2"},
    )
    world.poll_deals()
    writes_before = world.xero.store.writes

    with world.uow_factory() as uow:
        report = compare_phase(uow, world.map, world.sandboxes, 1, now=world.clock.now())
        uow.commit()

    by_id = {c.canonical_id: c for c in report.comparisons}
    assert by_id["PD-1"].outcome == MATCH
    assert by_id["PD-2"].outcome == DIFFERS
    assert by_id["PD-2"].differences == {"Name": {"intended": "Globex", "actual": "Globex Corp."}}
    assert by_id["PD-3"].outcome == MISSING
    assert report.agreement == 1 / 3
    assert all(c.flow == TO_XERO for c in report.comparisons)
    # Comparing only reads, and the outcome is kept on each shadow write.
    assert world.xero.store.writes == writes_before
    stored = {row.canonical_id: row.outcome for row in world.rows("shadow_writes")}
    assert stored == {"PD-1": MATCH, "PD-2": DIFFERS, "PD-3": MISSING}


def test_only_the_newest_shadow_write_per_record_is_compared() -> None:
    world = World(agency_map(phase_states={1: "parallel", 2: "planned"}))
    world.add_deal(1, "Acme Ltd", person_email="old@acme.example")
    world.poll_deals()
    world.crm.edit("deal", "1", person_email="new@acme.example")
    world.poll_deals()
    world.xero.add(
        "contact", {"Name": "Acme Ltd", "EmailAddress": "new@acme.example", "ContactNumber": "PD-1"}
    )
    with world.uow_factory() as uow:
        report = compare_phase(uow, world.map, world.sandboxes, 1, now=world.clock.now())
    assert [c.outcome for c in report.comparisons] == [MATCH]


def test_the_scheduled_comparison_feeds_phase_status() -> None:
    from sync_core.parallel import compare_parallel_phases
    from sync_core.rollout import phase_status

    world = World(agency_map(phase_states={1: "parallel", 2: "planned", 3: "planned"}))
    world.add_deal(1, "Acme Ltd", person_email="jane@acme.example")
    world.add_deal(2, "Globex", person_email="hank@globex.example")
    world.xero.add(
        "contact",
        {"Name": "Acme Ltd", "EmailAddress": "jane@acme.example", "ContactNumber": "PD-1"},
    )
    world.poll_deals()

    reports = compare_parallel_phases(
        world.uow_factory, world.map, world.sandboxes, now=world.clock.now()
    )
    assert [r.phase_id for r in reports] == [1]  # only phases in their parallel period
    with world.uow_factory() as uow:
        status = {p.id: p for p in phase_status(uow, world.map, world.clock.now())}
    assert status[1].comparison == {MATCH: 1, MISSING: 1}
    assert status[2].comparison == {}


def test_the_comparison_names_each_customer_and_says_how_records_differ() -> None:
    import io

    from rich.console import Console

    from bot.render import comparison_report

    world = World(agency_map(phase_states={1: "parallel", 2: "planned"}))
    world.add_deal(2, "Globex", person_email="hank@globex.example")
    world.add_deal(3, "Initech", person_email="bill@initech.example")
    world.xero.add(
        "contact",
        {"Name": "Globex Corp.", "EmailAddress": "hank@globex.example", "ContactNumber": "PD-2"},
    )
    world.poll_deals()
    with world.uow_factory() as uow:
        report = compare_phase(uow, world.map, world.sandboxes, 1, now=world.clock.now())
    by_id = {c.canonical_id: c for c in report.comparisons}
    assert by_id["PD-2"].display_name == "Globex" and by_id["PD-2"].manual_name == "Globex Corp."

    out = io.StringIO()
    comparison_report(Console(file=out, width=200, color_system=None), report)
    text = out.getvalue()
    assert "Globex (PD-2)" in text and "Initech (PD-3)" in text
    assert "Globex (PD-2) in xero.contact, made by hand as 'Globex Corp.'" in text
    assert "Name: shadow 'Globex' → manual 'Globex Corp.'" in text
