"""Going live at first start: a phase declared live in the map reconciles its targets before
its first sync, so the customers people typed by hand are linked, not copied a second time."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from connectors.base import Connector, Page, Transient
from sync_core.golive import reconcile_phase
from sync_core.matching.normalise import business_name
from tests.support.counting import CountsLists, CountsReads
from tests.unit.engine.support import TO_XERO, World, agency_map


def _customer(name: str | None) -> str:
    normalised = business_name(name)
    assert normalised is not None
    return normalised.key


def _seed_mess(world: World, *, review_only: bool = False) -> None:
    """The CRM's won deals, and accounting's contacts typed in by hand before Handoff."""
    world.add_deal(100, "Acme Ltd", person_email="jane@acme.example")
    world.add_deal(101, "Stark Industries", person_email="pepper@stark.example")
    if not review_only:
        world.xero.add(
            "contact",
            {"Name": "Acme Limited", "EmailAddress": "ap@acme.example"},
            external_id="hand-a",
        )
    # no email to back the name up: a probable match for a person, not for auto_accept
    world.xero.add("contact", {"Name": "Stark Industries Inc"}, external_id="hand-s")


def _first_start(world: World) -> None:
    """The store has not met the phases yet, as on a new store (the world's engine prepared
    against empty sandboxes); the engine starts."""
    world.uow_factory.data.tables["phases"] = []
    world.uow_factory.data.tables["phase_changes"] = []
    world.engine.prepare()


def _states(world: World) -> dict[int, str]:
    return {row.id: row.state for row in world.rows("phases")}


def _xero_customers(world: World) -> Counter[str]:
    return Counter(_customer(r.fields.get("Name")) for r in world.xero.records("contact"))


def test_a_declared_live_phase_links_the_twins_then_starts_live_with_no_second_copy() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd", person_email="jane@acme.example")
    world.xero.add("contact", {"Name": "Acme Limited", "EmailAddress": "ap@acme.example"})

    _first_start(world)

    assert _states(world)[1] == "live"
    (contact,) = world.xero.records("contact")
    assert contact.fields["ContactNumber"] == "PD-100"  # stamped: linked, not re-created
    audit = [(a.actor, a.action) for a in world.rows("actions")]
    assert ("handoff", "adopt") in audit and ("handoff", "match_applied") in audit

    world.poll_deals()
    world.engine.drain()
    assert _xero_customers(world) == {_customer("Acme Ltd"): 1}
    delivered = [e for e in world.events(TO_XERO) if e.status == "delivered"]
    assert [e.canonical_id for e in delivered] == ["PD-100"]


def _counted_crm() -> tuple[World, CountsLists]:
    wrapped: list[CountsLists] = []

    def counts(connector: Connector) -> Connector:
        wrapped.append(CountsLists(connector))
        return wrapped[-1]  # type: ignore[return-value]

    world = World(agency_map(), wrap={"pipedrive": counts})
    return world, wrapped[0]


def test_a_first_start_into_an_empty_target_never_reads_the_crm_and_goes_live() -> None:
    world, crm = _counted_crm()
    for deal in range(100, 103):
        world.add_deal(deal, f"Customer {deal} Ltd", person_email=f"a@c{deal}.example")
    crm.lists.clear()

    _first_start(world)

    # no accounting contact, no project: nothing can be proposed, so no deal is read
    assert crm.lists["deal"] == 0
    assert _states(world)[1] == "live" and _states(world)[2] == "live"
    assert world.rows("match_proposals") == []
    world.poll_deals()
    world.engine.drain()
    assert len(world.xero.records("contact")) == 3  # then it runs as before


def test_a_target_with_a_copy_free_to_match_reads_the_crm_as_before() -> None:
    world, crm = _counted_crm()
    world.add_deal(100, "Acme Ltd", person_email="jane@acme.example")
    world.xero.add("contact", {"Name": "Acme Limited", "EmailAddress": "ap@acme.example"})
    crm.lists.clear()

    outcome = reconcile_phase(
        world.uow_factory, world.map, world.engine.connectors, 1, clock=world.clock.now
    )

    assert crm.lists["deal"] == 1
    assert outcome.read == {"pipedrive.deal": 1, "xero.contact": 1} and outcome.unread == {}
    assert outcome.linked and outcome.gate.passed

    # reconciled again: the one contact is linked, none is free, the CRM is not read
    crm.lists.clear()
    again = reconcile_phase(
        world.uow_factory, world.map, world.engine.connectors, 1, clock=world.clock.now
    )
    assert crm.lists["deal"] == 0
    assert again.read == {"xero.contact": 1}
    assert again.unread == {"pipedrive.deal": "no copy free to match"}
    assert again.gate.passed


def test_probable_matches_left_for_a_person_hold_the_phase_in_parallel_and_say_so() -> None:
    world = World(agency_map())
    _seed_mess(world, review_only=True)

    _first_start(world)

    assert _states(world)[1] == "parallel"
    (held,) = [c for c in world.rows("phase_changes") if c.phase_id == 1]
    assert held.actor == "handoff" and held.to_state == "parallel"
    assert held.reason.startswith("declared live in the map; held in parallel: 1 probable")
    assert "xero.contact (1)" in held.reason and "handoff match review" in held.reason
    (notice,) = [n for n in world.sink.notices if n.group_key == "golive:phase:1"]
    assert notice.change == "raised" and notice.channel == "#integration-alerts"
    assert "phase 1 (" in notice.summary and "handoff phase promote 1" in notice.summary
    # the phase's writes are shadow writes: nothing typed twice while a person decides
    world.poll_deals()
    world.engine.drain()
    assert _xero_customers(world) == {_customer("Stark Industries"): 1}
    assert {e.status for e in world.events(TO_XERO)} == {"shadow"}


def test_the_auto_accepted_twins_are_linked_even_when_others_wait_for_review() -> None:
    world = World(agency_map())
    _seed_mess(world)

    _first_start(world)

    assert _states(world)[1] == "parallel"
    contacts = world.xero.records("contact")
    numbers = {r.fields["Name"]: r.fields.get("ContactNumber") for r in contacts}
    assert numbers == {"Acme Limited": "PD-100", "Stark Industries Inc": None}


class Unreadable:
    """Wraps a connector whose listing fails while ``failing``."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.system = inner.system
        self.failing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        if self.failing:
            raise Transient("xero: 503 Service Unavailable")
        return self.inner.list_changed(record_type, cursor, limit=limit)


def test_a_target_that_cannot_be_read_waits_unstarted_and_is_reconciled_at_the_next_poll() -> None:
    wrapped: list[Unreadable] = []

    def unreadable(connector: Connector) -> Connector:
        wrapped.append(Unreadable(connector))
        return wrapped[-1]  # type: ignore[return-value]

    world = World(agency_map(), wrap={"xero": unreadable})
    world.add_deal(100, "Acme Ltd", person_email="jane@acme.example")
    world.xero.add("contact", {"Name": "Acme Limited", "EmailAddress": "jane@acme.example"})
    wrapped[0].failing = True

    _first_start(world)

    # never live blind, and not parked in parallel for good by an outage either
    assert 1 not in _states(world)
    assert [c for c in world.rows("phase_changes") if c.phase_id == 1] == []
    alerts = [a.summary for a in world.rows("alerts")]
    assert any("xero.contact could not be read to reconcile client" in a for a in alerts)
    assert any("503" in a and "waits to start" in a for a in alerts)
    assert _states(world)[2] == "live"  # the project tool read fine: its phase is live

    # accounting is back: the next poll reconciles phase 1 first, links the twin, goes live
    wrapped[0].failing = False
    world.poll_deals()
    assert _states(world)[1] == "live"
    assert _xero_customers(world) == Counter({"acme": 1})
    # the alert that said it waits is over, and says so in place
    (waited,) = [a for a in world.rows("alerts") if a.group_key == "golive:phase:1"]
    assert waited.state == "resolved" and "phase 1 started live" in waited.summary
    assert world.sink.notices[-1].alert_id == waited.id


def test_a_link_refused_at_first_start_holds_the_phase_for_review_instead_of_waiting() -> None:
    from sync_core.matching.service import decide, run_match

    wrapped: list[CountsReads] = []

    def counts(connector: Connector) -> Connector:
        wrapped.append(CountsReads(connector))
        return wrapped[-1]  # type: ignore[return-value]

    world = World(agency_map(), wrap={"xero": counts})
    _seed_mess(world, review_only=True)
    with world.uow_factory() as uow:  # reviewed before the first start: Stark is accepted
        report = run_match(uow, world.map, world.engine.connectors, "client", now=world.clock.now())
        (stark,) = report.proposals
        decide(uow, stark.id, "accept", actor="U0ADMIN1", now=world.clock.now())
        uow.commit()
    # then someone types another canonical ID into that contact
    world.xero.update("contact", "hand-s", {"ContactNumber": "XC-TYPED-1"})

    _first_start(world)

    # not "waits to start" retried at every poll: started in parallel, held for a person
    assert _states(world)[1] == "parallel"
    (alert,) = [a for a in world.rows("alerts") if a.group_key == "golive:phase:1"]
    assert "waits to start" not in alert.summary
    assert "starts in its parallel period: 1 probable match(es)" in alert.summary
    assert "review with `handoff match review`" in alert.summary
    assert (
        "1 accepted link(s) not linked, back to review: PD-101 → xero.contact hand-s: "
        "xero.contact hand-s carries the canonical ID XC-TYPED-1 already"
    ) in alert.summary
    assert "handoff phase promote 1" in alert.summary
    (row,) = world.rows("match_proposals")
    assert (row.status, row.band, row.decided_by) == ("open", "review", "handoff")

    # the next polls leave it to the person: not read, not stamped, not refused again
    wrapped[0].reads.clear()
    world.poll_deals()
    world.engine.drain()
    assert wrapped[0].reads["hand-s"] == 0
    assert world.xero.records("contact")[0].fields["ContactNumber"] == "XC-TYPED-1"
    refused = [a for a in world.rows("actions") if a.action == "match_conflict"]
    assert [(a.actor, a.subject) for a in refused] == [("handoff", "PD-101")]
    assert len([n for n in world.sink.notices if n.group_key == "golive:phase:1"]) == 1


class Crash(BaseException):
    """The process dies (not an error anything catches)."""


class DiesWhileStamping:
    """Wraps a connector: the first stamp of a canonical ID kills the process."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.system = inner.system
        self.armed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def update(self, record_type: str, external_id: str, fields: Any, **more: Any) -> Any:
        if self.armed:
            self.armed = False
            raise Crash()
        return self.inner.update(record_type, external_id, fields, **more)


def test_a_crash_mid_reconciliation_never_leaves_the_phase_live_and_a_restart_finishes() -> None:
    wrapped: list[DiesWhileStamping] = []

    def dies(connector: Connector) -> Connector:
        wrapped.append(DiesWhileStamping(connector))
        return wrapped[-1]  # type: ignore[return-value]

    world = World(agency_map(), wrap={"xero": dies})
    world.add_deal(100, "Acme Ltd", person_email="jane@acme.example")
    world.xero.add("contact", {"Name": "Acme Limited", "EmailAddress": "ap@acme.example"})
    wrapped[0].armed = True

    with pytest.raises(Crash):
        _first_start(world)
    assert 1 not in _states(world)  # not written live (nor at all) before reconciliation ended
    world.poll_deals()
    world.engine.drain()
    assert world.events(TO_XERO) == []  # a phase without its row runs nothing

    world.engine.prepare()  # the restart

    assert _states(world)[1] == "live"
    world.poll_deals()
    world.engine.drain()
    assert _xero_customers(world) == {_customer("Acme Ltd"): 1}
    assert world.xero.records("contact")[0].fields["ContactNumber"] == "PD-100"


def test_a_second_start_changes_nothing() -> None:
    world = World(agency_map())
    _seed_mess(world)
    _first_start(world)
    before = (len(world.rows("match_proposals")), len(world.rows("actions")))

    world.engine.prepare()

    assert (len(world.rows("match_proposals")), len(world.rows("actions"))) == before
    assert len([n for n in world.sink.notices if n.group_key.startswith("golive:")]) == 1


def test_once_reviewed_a_held_phase_is_promoted_without_waiting_a_parallel_period() -> None:
    from sync_core.matching.apply import apply_accepted
    from sync_core.matching.service import decide
    from sync_core.phases import PhaseError, promote

    world = World(agency_map())
    _seed_mess(world)
    _first_start(world)
    world.poll_deals()
    world.engine.drain()

    def promote_1() -> str:
        with world.uow_factory() as uow:
            change = promote(
                uow, world.map, 1, actor="U0ADMIN1", reason="reviewed", now=world.clock.now()
            )
            uow.commit()
        return change.to_state

    with pytest.raises(PhaseError) as refused:
        promote_1()
    assert "no_unreviewed_matches" in str(refused.value)
    assert "parallel_period" not in str(refused.value)  # the map asked for none
    with world.uow_factory() as uow:
        (stark,) = [r for r in uow.matches.for_entity("client") if r.status == "open"]
        decide(uow, stark.id, "accept", actor="U0ADMIN1", now=world.clock.now())
        uow.commit()
    (held,) = [a for a in world.rows("alerts") if a.group_key == "golive:phase:1"]
    assert held.state == "open"  # accepted is not linked yet: the gate still holds
    apply_accepted(
        world.uow_factory,
        world.map,
        world.engine.connectors,
        "client",
        actor="U0ADMIN1",
        clock=world.clock.now,
    )
    # the last link it waited for: the review is done, the alert says the phase is ready
    (held,) = [a for a in world.rows("alerts") if a.group_key == "golive:phase:1"]
    assert held.state == "resolved"
    assert "Review done (last decision by U0ADMIN1)" in held.summary
    resolved = [a for a in world.rows("actions") if a.action == "resolve_alert"]
    assert [(a.actor, a.subject) for a in resolved] == [("U0ADMIN1", f"alert:{held.id}")]
    assert [r.kind for r in world.rows("alert_outbox") if r.alert_id == held.id] == ["update"]

    assert promote_1() == "live"
    world.engine.drain()  # the parallel period's shadow writes, delivered at cutover
    assert _xero_customers(world) == {_customer("Acme Ltd"): 1, _customer("Stark Industries"): 1}
    # the two typed in by hand, linked: the cutover wrote the deals' values into them
    contacts = world.xero.records("contact")
    assert sorted(r.external_id for r in contacts) == ["hand-a", "hand-s"]
    assert sorted(r.fields["ContactNumber"] for r in contacts) == ["PD-100", "PD-101"]
