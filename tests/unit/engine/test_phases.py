"""Phases: a parallel period writes nothing and records shadow writes; promotion delivers
them; the gates refuse a promotion that is too early or has dead events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync_core.phases import PhaseChange, PhaseError, promote, rollback
from sync_core.store.models import EventStatus
from tests.unit.engine.support import TO_XERO, World, agency_map


def _promote(world: World, phase_id: int, *, override: bool = False) -> PhaseChange:
    with world.uow_factory() as uow:
        change = promote(
            uow,
            world.map,
            phase_id,
            actor="U0ADMIN1",
            reason="cutover",
            now=world.clock.now(),
            override=override,
        )
        uow.commit()
    return change


def _parallel_world() -> World:
    world = World(agency_map(phase_states={1: "parallel"}))
    world.add_deal(100, "Acme Ltd")
    world.add_deal(101, "Globex")
    return world


def test_a_phase_in_parallel_writes_nothing_and_records_shadow_writes() -> None:
    world = _parallel_world()

    report = world.poll_deals()
    world.engine.drain()

    assert report.outcomes == {"shadow": 2, "queued": 2}
    assert world.xero.records("contact") == []
    assert world.xero.store.writes == 0
    shadow = world.events(TO_XERO)
    assert {(e.status, e.mode) for e in shadow} == {("shadow", "parallel")}
    assert all(e.attempts == 0 and e.next_attempt_at is None for e in shadow)
    writes = world.rows("shadow_writes")
    assert sorted((w.flow, w.canonical_id, w.payload["Name"]) for w in writes) == [
        (TO_XERO, "PD-100", "Acme Ltd"),
        (TO_XERO, "PD-101", "Globex"),
    ]
    # The live phase beside it delivered as usual.
    assert len(world.asana.records("project")) == 2
    # Reading the same records again (the link back touched them) records no second shadow.
    world.crm.edit("deal", "100", stage_id=3)
    assert set(world.poll_deals().outcomes) == {"unchanged"}
    assert len(world.rows("shadow_writes")) == 2


def test_promoting_turns_the_newest_shadow_writes_into_live_deliveries() -> None:
    world = _parallel_world()
    world.poll_deals()
    world.crm.edit("deal", "100", org_name="Acme Group Ltd")
    world.poll_deals()
    assert len(world.rows("shadow_writes")) == 3

    change = _promote(world, 1, override=True)

    assert (change.from_state, change.to_state) == ("parallel", "live")
    assert change.overridden == ["parallel_period"]
    assert change.backfilled_events == 2
    report = world.engine.drain()
    assert report.dead == 0
    names = sorted(c.fields["Name"] for c in world.xero.records("contact"))
    assert names == ["Acme Group Ltd", "Globex"]
    live = [e for e in world.events(TO_XERO) if e.mode == "live"]
    assert {e.status for e in live} == {EventStatus.DELIVERED.value}
    # After the cutover the flow plans live events.
    world.crm.edit("deal", "101", org_name="Globex Corporation")
    assert world.poll_deals().outcomes["queued"] == 2
    assert world.events(TO_XERO)[-1].status == EventStatus.PENDING.value


def test_promotion_passes_the_gates_once_the_parallel_period_has_lasted() -> None:
    world = _parallel_world()
    world.poll_deals()
    world.clock.advance(timedelta(days=7))

    change = _promote(world, 1)

    assert change.overridden == []
    assert all(gate.passed for gate in change.gates)
    world.engine.drain()
    assert len(world.xero.records("contact")) == 2


def test_the_gates_refuse_a_promotion_that_is_too_early() -> None:
    world = _parallel_world()
    world.poll_deals()
    world.clock.advance(timedelta(days=6, hours=23))

    with pytest.raises(PhaseError, match="parallel_period"):
        _promote(world, 1)

    with world.uow_factory() as uow:
        row = uow.phases.get(1)
        assert row is not None and row.state == "parallel"
    assert [e.mode for e in world.events(TO_XERO)] == ["parallel", "parallel"]


def test_the_gates_refuse_a_promotion_with_dead_events() -> None:
    world = World(agency_map())
    world.add_deal(100, "")  # Xero refuses a nameless contact: a dead event in phase 1
    world.poll_deals()
    world.engine.drain()
    with world.uow_factory() as uow:
        rollback(uow, world.map, 1, actor="U0ADMIN1", reason="fix", now=world.clock.now())
        uow.commit()
    world.clock.advance(timedelta(days=8))

    with pytest.raises(PhaseError, match="no_dead_events"):
        _promote(world, 1)

    change = _promote(world, 1, override=True)
    assert change.overridden == ["no_dead_events"]


def test_a_live_phase_cannot_be_promoted_and_an_unknown_one_is_named() -> None:
    world = World(agency_map())
    with pytest.raises(PhaseError, match="already live"):
        _promote(world, 2)
    with pytest.raises(PhaseError, match="no phase 9"):
        _promote(world, 9)


def test_the_parallel_phase_of_the_demo_map_shadows_invoice_statuses() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.poll_deals()
    world.engine.drain()
    (contact,) = world.xero.records("contact")
    world.xero.add(
        "invoice",
        {"InvoiceNumber": "INV-1", "Status": "PAID", "Contact": {"ContactID": contact.external_id}},
        external_id="inv-1",
    )

    world.engine.poll(world.map.flow("invoice-status-to-deal").source)  # type: ignore[arg-type]

    (event,) = world.events("invoice-status-to-deal")
    assert event.status == EventStatus.SHADOW.value
    assert event.target_canonical_id == "PD-100"
    assert event.target_external_id == "100"
    assert "Invoice status" not in world.crm.get("deal", "100").fields


def _pending_match(world: World, status: str) -> None:
    from sync_core.store.models import MatchProposalRow

    now = world.clock.now()
    with world.uow_factory() as uow:
        for external_id in ("7", "8"):
            uow.matches.add(
                MatchProposalRow(
                    entity="client",
                    canonical_id=f"PD-10{external_id}",
                    source_system="pipedrive",
                    source_record_type="deal",
                    source_external_id=f"10{external_id}",
                    system="xero",
                    record_type="contact",
                    external_id=external_id,
                    score=0.9,
                    reasons="name 1.00 after removing Ltd/Limited",
                    band="review",
                    status=status,
                    created_at=now,
                    updated_at=now,
                )
            )
        uow.commit()


def test_unreviewed_probable_matches_in_the_targets_refuse_going_live() -> None:
    world = _parallel_world()
    world.clock.advance(timedelta(days=8))
    _pending_match(world, "open")

    with pytest.raises(PhaseError) as refused:
        _promote(world, 1)
    message = str(refused.value)
    assert "no_unreviewed_matches (2 probable match(es) neither linked nor rejected" in message
    assert "xero.contact (2) (client): review with `handoff match review`" in message

    change = _promote(world, 1, override=True)
    assert change.overridden == ["no_unreviewed_matches"]


def test_rejected_or_applied_matches_let_the_phase_go_live() -> None:
    world = _parallel_world()
    world.clock.advance(timedelta(days=8))
    _pending_match(world, "rejected")
    assert _promote(world, 1).to_state == "live"


def test_a_phase_declared_live_gets_no_row_before_its_targets_are_reconciled() -> None:
    """Only the engine's start, which reconciles the targets first (see test_golive), writes
    a declared-live phase's row: a command that reads the store alone must not start it."""
    from sync_core.phases import Gate, ensure_phases

    world = World(agency_map(phase_states={1: "planned", 2: "planned"}))
    _pending_match(world, "open")  # proposals in xero.contact, phase 1's target
    world.uow_factory.data.tables["phases"] = []  # a store that has not met the phases yet
    with world.uow_factory() as uow:
        waiting = ensure_phases(uow, agency_map(), world.clock.now())  # 1 and 2 declared live
        uow.commit()
    assert waiting == [1, 2]
    with (
        pytest.raises(PhaseError, match="declared live in the map and has not started yet"),
        world.uow_factory() as uow,
    ):
        promote(uow, agency_map(), 1, actor="U0ADMIN1", reason="now", now=world.clock.now())
    with world.uow_factory() as uow:
        assert {row.id: row.state for row in uow.phases.all()} == {3: "parallel"}
        gate = Gate("no_unreviewed_matches", False, "2 probable match(es) ...")
        ensure_phases(uow, agency_map(), world.clock.now(), reconciled={1: gate})
        uow.commit()
    with world.uow_factory() as uow:
        states = {row.id: row.state for row in uow.phases.all()}
        [held] = uow.phases.changes(1)
    assert states == {1: "parallel", 3: "parallel"}  # 2 still waits for its own
    assert held.actor == "handoff" and held.reason.startswith("declared live in the map; held")
    assert "2 probable match(es)" in held.reason
