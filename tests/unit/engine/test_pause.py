"""A paused flow loses nothing: what changed during the pause is planned when it resumes."""

from __future__ import annotations

from sync_core.store.models import FlowStateRow
from tests.unit.engine.support import TO_ASANA, TO_XERO, World, agency_map


def set_paused(world: World, flow: str, paused: bool) -> None:
    with world.uow_factory() as uow:
        row = uow.flow_states.get(flow) or FlowStateRow(
            flow=flow, paused=False, updated_at=world.clock.now()
        )
        row.paused = paused
        uow.flow_states.put(row)
        uow.commit()


def test_changes_during_a_pause_are_planned_on_resume_without_duplicates() -> None:
    world = World(agency_map())
    world.add_deal(1, "Acme Ltd")
    world.poll_deals()
    set_paused(world, TO_XERO, True)

    world.add_deal(2, "Globex")
    world.poll_deals()
    assert {e.canonical_id for e in world.events(TO_XERO)} == {"PD-1"}
    assert {e.canonical_id for e in world.events(TO_ASANA)} == {"PD-1", "PD-2"}

    world.add_deal(3, "Initech")
    world.poll_deals()  # still paused: the rewind point stays at the first skipped read
    set_paused(world, TO_XERO, False)
    world.poll_deals()

    assert sorted(e.canonical_id for e in world.events(TO_XERO)) == ["PD-1", "PD-2", "PD-3"]
    # Reading the source again made nothing new for the flow that kept running.
    assert sorted(e.canonical_id for e in world.events(TO_ASANA)) == ["PD-1", "PD-2", "PD-3"]
    state = next(r for r in world.rows("flow_states") if r.flow == TO_XERO)
    assert state.resume_cursor is None
