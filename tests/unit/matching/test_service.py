"""Reconciliation on the sandboxes: proposals stored with reasons, decisions kept across runs,
apply stamps each accepted record once even when killed half-way."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from connectors.base import Connector, Record
from sync_core.map.model import RecordRef
from sync_core.matching.apply import apply_accepted
from sync_core.matching.resumable import Checkpoint, checkpoint, checkpoint_key, match_entity
from sync_core.matching.service import MatchError, decide, read_records, run_match
from tests.support.counting import CountsLists
from tests.unit.engine.support import World, agency_map


def _world(**wrap: Any) -> World:
    world = World(agency_map(phase_states={1: "parallel", 2: "parallel"}), wrap=wrap)
    world.add_deal(100, "Acme Ltd", person_email="jane@acme.com")
    world.add_deal(101, "Globex Corporation", person_email="hank@globex.com")
    world.add_deal(102, "Initech", person_email="bill@initech.com")
    world.xero.add("contact", {"Name": "Acme Limited", "EmailAddress": "accounts@acme.com"})
    world.xero.add("contact", {"Name": "Globex Corp."})
    world.xero.add("contact", {"Name": "Acme Logistics Ltd", "EmailAddress": "ops@acmelog.com"})
    return world


def _match(world: World) -> dict[tuple[str, str], Any]:
    with world.uow_factory() as uow:
        report = run_match(uow, world.map, world.engine.connectors, "client", now=world.clock.now())
        uow.commit()
    return {(p.canonical_id, p.name or ""): p for p in report.proposals}


def _apply(world: World) -> Any:
    """``handoff match apply client`` as an admin."""
    return apply_accepted(
        world.uow_factory,
        world.map,
        world.engine.connectors,
        "client",
        actor="U0ADMIN1",
        clock=world.clock.now,
    )


def test_the_mess_becomes_proposals_with_scores_and_reasons() -> None:
    world = _world()
    proposals = _match(world)
    assert set(proposals) == {("PD-100", "Acme Limited"), ("PD-101", "Globex Corp.")}
    acme = proposals["PD-100", "Acme Limited"]
    assert (acme.status, acme.band, acme.decided_by) == ("accepted", "auto", "handoff:auto_accept")
    assert acme.reasons == "name 1.00 after removing Ltd/Limited; same email domain acme.com"
    globex = proposals["PD-101", "Globex Corp."]
    assert (globex.status, globex.band) == ("open", "review")
    assert [a.action for a in world.rows("actions")] == ["match_accepted"]
    kept = {(r.system, r.external_id): r for r in world.rows("match_records")}
    assert kept["pipedrive", "100"].keys == {
        "name": "Acme Ltd",
        "title": "Website Redesign",  # compared with a delivery project's title
        "email": "jane@acme.com",
    }
    assert kept["pipedrive", "100"].display_name == "Acme Ltd"
    assert all(r.url for r in kept.values())  # review shows where each record lives
    assert len(kept) == 3 + 3  # every deal and every accounts contact read


def test_rerunning_keeps_decisions_and_refreshes_the_rest() -> None:
    world = _world()
    globex = _match(world)["PD-101", "Globex Corp."]
    with world.uow_factory() as uow:
        decide(uow, globex.id, "reject", actor="U0ADMIN1", now=world.clock.now(), reason="other")
        uow.commit()
    again = _match(world)
    assert again["PD-101", "Globex Corp."].status == "rejected"
    assert again["PD-101", "Globex Corp."].id == globex.id
    assert len(world.rows("match_proposals")) == 2
    decisions = [(d.decision, d.actor, d.reason) for d in world.rows("match_decisions")]
    assert ("rejected", "U0ADMIN1", "other") in decisions


def test_an_open_proposal_no_longer_found_goes_stale() -> None:
    world = _world()
    _match(world)
    [globex] = [r for r in world.xero.records("contact") if r.fields["Name"] == "Globex Corp."]
    world.xero.edit("contact", globex.external_id, Name="Someone Else")
    _match(world)
    statuses = {r.name: r.status for r in world.rows("match_proposals")}
    assert statuses["Globex Corp."] == "stale"


def test_a_record_deleted_since_the_last_read_is_not_proposed_again_at_the_same_moment() -> None:
    # the records are kept in the store as they are read and proposed from there: a run at
    # the same moment as the last (a clock that stands still) must not take the last run's
    # records for its own
    world = _world()
    _match(world)
    [globex] = [r for r in world.xero.records("contact") if r.fields["Name"] == "Globex Corp."]
    assert world.xero.store.remove("contact", globex.external_id) is not None
    _match(world)
    statuses = {r.name: r.status for r in world.rows("match_proposals")}
    assert statuses["Globex Corp."] == "stale"


def test_a_copy_freed_after_the_read_stops_the_run_instead_of_reading_in_its_transaction() -> None:
    world, crm = _no_copy_free()
    read = read_records(
        world.uow_factory, world.map, world.engine.connectors, "client", now=world.clock.now()
    )
    assert DEAL not in read and crm.lists["deal"] == 0  # no copy free: the CRM was not read
    # meanwhile, someone unlinks Acme's contact: it is free to match now
    with world.uow_factory() as uow:
        [acme] = [r.external_id for r in world.rows("links") if r.system == "xero"]
        link = uow.links.by_record("xero", "contact", acme)
        assert link is not None
        uow.links.remove(link)
        uow.commit()
    with (
        pytest.raises(MatchError, match="links changed while client was being read"),
        world.uow_factory() as uow,
    ):
        run_match(
            uow,
            world.map,
            world.engine.connectors,
            "client",
            now=world.clock.now(),
            read_before=read,
        )
    assert crm.lists["deal"] == 0  # never read inside the transaction


DEAL = RecordRef(system="pipedrive", record_type="deal")


def _no_copy_free() -> tuple[World, CountsLists]:
    """The mess matched and applied, then every accounts contact taken: Acme's linked (its
    stamp since wiped by hand), the others carrying a canonical ID typed by hand. Globex's
    proposal is still open."""
    counted: list[CountsLists] = []

    def wrap(inner: Connector) -> Connector:
        counted.append(CountsLists(inner))
        return counted[-1]  # type: ignore[return-value]

    world = _world(pipedrive=wrap)
    acme = _match(world)["PD-100", "Acme Limited"]
    assert _apply(world).applied
    for record in world.xero.records("contact"):
        typed = None if record.external_id == acme.external_id else f"XC-{record.external_id}"
        world.xero.update("contact", record.external_id, {"ContactNumber": typed})
    counted[0].lists.clear()
    world.clock.sleep(60)  # a later run: what the first kept is older than its reads
    return world, counted[0]


def test_with_no_copy_free_to_match_the_crm_is_not_read_and_open_proposals_go_stale() -> None:
    world, crm = _no_copy_free()
    with world.uow_factory() as uow:
        report = run_match(uow, world.map, world.engine.connectors, "client", now=world.clock.now())
        uow.commit()

    assert crm.lists["deal"] == 0
    assert report.read == {"xero.contact": 3, "asana.project": 0}
    assert report.already_linked == {"xero.contact": 3, "asana.project": 0}
    assert report.unread == {"pipedrive.deal": "no copy free to match"}
    assert report.proposals == []
    # what was proposed before is handled as when nothing is proposed: open goes stale
    statuses = {r.name: r.status for r in world.rows("match_proposals")}
    assert statuses == {"Acme Limited": "applied", "Globex Corp.": "stale"}


def test_handoff_match_reads_the_copies_first_and_the_crm_only_when_one_is_free() -> None:
    world, crm = _no_copy_free()
    with world.uow_factory() as uow:  # a read of the CRM an earlier run left unfinished
        mark = Checkpoint(started_at=world.clock.now(), cursor="1", pages=1)
        uow.cursors.put("pipedrive", checkpoint_key("client", DEAL), mark.dump(), mark.started_at)
        uow.commit()

    report = match_entity(
        world.uow_factory, world.map, world.engine.connectors, "client", clock=world.clock.now
    )

    assert crm.lists["deal"] == 0
    assert report.unread == {"pipedrive.deal": "no copy free to match"}
    with world.uow_factory() as uow:
        assert checkpoint(uow, "client", DEAL) is None  # cleared all the same
    assert {r.name: r.status for r in world.rows("match_proposals")}["Globex Corp."] == "stale"

    # a contact typed by hand again: free to match, so the CRM is read, as before
    world.xero.add("contact", {"Name": "Initech Ltd", "EmailAddress": "bill@initech.com"})
    again = match_entity(
        world.uow_factory, world.map, world.engine.connectors, "client", clock=world.clock.now
    )
    assert crm.lists["deal"] == 1 and again.unread == {}
    assert again.read == {"pipedrive.deal": 3, "xero.contact": 4, "asana.project": 0}
    assert [(p.canonical_id, p.name) for p in again.proposals] == [("PD-102", "Initech Ltd")]


def test_unknown_entity_and_decision_are_refused() -> None:
    world = _world()
    with world.uow_factory() as uow, pytest.raises(MatchError, match="no entity 'customer'"):
        run_match(uow, world.map, world.engine.connectors, "customer", now=world.clock.now())
    proposals = _match(world)
    with world.uow_factory() as uow, pytest.raises(MatchError, match="not a decision"):
        decide(
            uow, proposals["PD-101", "Globex Corp."].id, "maybe", actor="x", now=world.clock.now()
        )


class CountsStamps:
    """Counts the reads and writes of each record; dies (like a killed process) after the
    first ``die_after`` writes, once the vendor has written."""

    def __init__(self, inner: Connector, die_after: int | None = None) -> None:
        self.inner = inner
        self.system = inner.system
        self.die_after = die_after
        self.stamps: Counter[str] = Counter()
        self.reads: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get(self, record_type: str, external_id: str) -> Record:
        self.reads[external_id] += 1
        return self.inner.get(record_type, external_id)

    def update(
        self, record_type: str, external_id: str, fields: Mapping[str, Any], **kw: Any
    ) -> Record:
        record = self.inner.update(record_type, external_id, fields, **kw)
        self.stamps[external_id] += 1
        if self.die_after is not None and sum(self.stamps.values()) >= self.die_after:
            self.die_after = None
            raise KeyboardInterrupt("killed after the vendor wrote")
        return record


def test_apply_killed_half_way_and_run_again_stamps_each_record_once() -> None:
    counter: dict[str, CountsStamps] = {}

    def wrap(inner: Connector) -> Connector:
        counter["xero"] = CountsStamps(inner, die_after=2)
        return counter["xero"]  # type: ignore[return-value]

    world = _world(xero=wrap)
    proposals = _match(world)
    with world.uow_factory() as uow:
        decide(
            uow,
            proposals["PD-101", "Globex Corp."].id,
            "accept",
            actor="U0ADMIN1",
            now=world.clock.now(),
        )
        uow.commit()

    with pytest.raises(KeyboardInterrupt):
        _apply(world)
    report = _apply(world)

    # the first was committed before the kill; the second was stamped, not booked
    assert len(report.applied) == 1 and report.failed == []
    stamped = {
        r.fields["Name"]: r.fields.get("ContactNumber") for r in world.xero.records("contact")
    }
    assert stamped == {
        "Acme Limited": "PD-100",
        "Globex Corp.": "PD-101",
        "Acme Logistics Ltd": None,
    }
    assert sorted(counter["xero"].stamps.values()) == [1, 1]
    links = {(link.canonical_id, link.system) for link in world.rows("links")}
    assert {("PD-100", "xero"), ("PD-101", "xero")} <= links
    assert {r.status for r in world.rows("match_proposals")} == {"applied"}
    adopted = [(a.action, a.actor) for a in world.rows("actions") if a.action == "adopt"]
    assert adopted == [("adopt", "U0ADMIN1"), ("adopt", "U0ADMIN1")]
    assert _apply(world).applied == []  # nothing left to do


def test_a_canonical_id_typed_by_hand_after_matching_is_not_overwritten_and_is_audited() -> None:
    counter: dict[str, CountsStamps] = {}

    def wrap(inner: Connector) -> Connector:
        counter["xero"] = CountsStamps(inner)
        return counter["xero"]  # type: ignore[return-value]

    world = _world(xero=wrap)
    acme = _match(world)["PD-100", "Acme Limited"]
    world.xero.update("contact", acme.external_id, {"ContactNumber": "XC-TYPED-1"})

    reason = f"xero.contact {acme.external_id} carries the canonical ID XC-TYPED-1 already"
    first = _apply(world)
    refusal = f"PD-100 → xero.contact {acme.external_id}: {reason}"
    assert (first.failed, first.refused) == ([], [refusal])
    assert counter["xero"].reads[acme.external_id] == 1

    # back to a person: the next apply neither reads nor writes it, and reports nothing
    counter["xero"].reads.clear()
    again = _apply(world)
    assert (again.applied, again.failed, again.refused) == ([], [], [])
    assert counter["xero"].reads == Counter() and counter["xero"].stamps == Counter()

    [record] = [r for r in world.xero.records("contact") if r.external_id == acme.external_id]
    assert record.fields["ContactNumber"] == "XC-TYPED-1"
    assert not [link for link in world.rows("links") if link.system == "xero"]
    [row] = [r for r in world.rows("match_proposals") if r.id == acme.id]
    assert (row.status, row.band, row.decided_by, row.reason) == (
        "open",
        "review",
        "U0ADMIN1",
        reason,
    )
    assert row.reasons.endswith(f"not linked: {reason} (fix the record, then accept; or reject)")
    refused = [a for a in world.rows("actions") if a.action == "match_conflict"]
    assert [(a.subject, a.actor, a.reason) for a in refused] == [("PD-100", "U0ADMIN1", reason)]
    history = [d.decision for d in world.rows("match_decisions") if d.proposal_id == acme.id]
    assert history == ["accepted", "conflict"]


def test_a_refused_proposal_waits_for_a_person_across_runs_then_links_once_accepted() -> None:
    world = _world()
    acme = _match(world)["PD-100", "Acme Limited"]
    world.xero.update("contact", acme.external_id, {"ContactNumber": "XC-TYPED-1"})

    assert len(_apply(world).refused) == 1
    # matching sets a record carrying a canonical ID aside, but the refused proposal stays a
    # person's to settle: not stale, not accepted again by auto_accept
    _match(world)
    assert [r.status for r in world.rows("match_proposals") if r.id == acme.id] == ["open"]
    world.xero.update("contact", acme.external_id, {"ContactNumber": None})  # fixed by hand
    again = _match(world)["PD-100", "Acme Limited"]
    assert (again.status, again.band) == ("open", "review")
    assert "not linked: xero.contact" in again.reasons
    assert _apply(world).applied == []

    with world.uow_factory() as uow:
        decide(uow, acme.id, "accept", actor="U0ADMIN2", now=world.clock.now())
        uow.commit()
    assert _apply(world).applied == [f"PD-100 → xero.contact {acme.external_id}"]
    [record] = [r for r in world.xero.records("contact") if r.external_id == acme.external_id]
    assert record.fields["ContactNumber"] == "PD-100"


def test_a_refused_proposal_whose_record_is_deleted_goes_stale_with_the_reason_said() -> None:
    world = _world()
    acme = _match(world)["PD-100", "Acme Limited"]
    world.xero.update("contact", acme.external_id, {"ContactNumber": "XC-TYPED-1"})
    assert len(_apply(world).refused) == 1
    world.xero.store.remove("contact", acme.external_id)  # deleted in accounts

    _match(world)

    [row] = [r for r in world.rows("match_proposals") if r.id == acme.id]
    assert row.status == "stale"
    reason = f"xero.contact {acme.external_id} is gone: not among the records read"
    history = [
        (d.decision, d.actor, d.reason)
        for d in world.rows("match_decisions")
        if d.proposal_id == acme.id
    ]
    assert history[-1] == ("stale", "handoff:match", reason)
    audit = [(a.action, a.subject, a.reason) for a in world.rows("actions")]
    assert audit[-1] == ("match_stale", "PD-100", reason)


def test_a_refused_proposal_gone_stale_comes_back_for_review_not_auto_accepted() -> None:
    world = _world()
    acme = _match(world)["PD-100", "Acme Limited"]
    world.xero.update("contact", acme.external_id, {"ContactNumber": "XC-TYPED-1"})
    assert len(_apply(world).refused) == 1
    stored = world.xero.store.remove("contact", acme.external_id)
    _match(world)
    assert stored is not None  # restored from the vendor's bin, its stamp wiped by hand
    world.xero.store.put("contact", acme.external_id, stored.fields, world.clock.now())
    world.xero.update("contact", acme.external_id, {"ContactNumber": None})

    again = _match(world)["PD-100", "Acme Limited"]

    assert (again.id, again.status, again.band) == (acme.id, "open", "review")
    assert "not linked: xero.contact" in again.reasons


def test_a_copy_typed_beside_one_handoff_made_is_proposed_for_review_as_a_second_copy() -> None:
    world = World(agency_map())  # phase 1 live from the start, as in the demo
    world.add_deal(100, "Acme Ltd", person_email="jane@acme.com")
    world.poll_deals()
    world.engine.drain()  # Handoff made "Acme Ltd" in accounts
    world.xero.add("contact", {"Name": "Acme Limited", "EmailAddress": "accounts@acme.com"})

    [proposal] = _match(world).values()

    assert (proposal.canonical_id, proposal.name, proposal.status) == (
        "PD-100",
        "Acme Limited",
        "open",
    )
    assert "PD-100 has xero.contact" in proposal.reasons
    assert "a second copy (unlink the wrong one, or reject)" in proposal.reasons


def test_the_hand_made_project_of_a_deal_is_proposed_and_another_of_its_client_is_not() -> None:
    world = World(agency_map(phase_states={1: "parallel", 2: "parallel"}))
    world.add_deal(100, "Acme Ltd", title="Website Redesign", person_email="jane@acme.com")
    old = world.asana.add("project", {"name": "Acme – Website Redesign (old board)"})
    world.asana.add("project", {"name": "Acme – Brand Guidelines"})
    proposals = _match(world)
    assert {(p.canonical_id, p.record_type, p.external_id) for p in proposals.values()} == {
        ("PD-100", "project", old.external_id)
    }
    (acme,) = proposals.values()
    assert (acme.status, acme.band) == ("accepted", "auto")
    assert acme.reasons == "name 1.00 after removing Ltd; same title redesign website"
