"""`handoff match ENTITY` on a large system, killed part-way through its full read: the next
run reads only the pages the first did not, from the checkpoint kept in the store, and stores
the same proposals as a run that was never interrupted."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from connectors.base import Connector, Page
from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector
from sync_core.map.model import RecordRef
from sync_core.matching.resumable import checkpoint, match_entity
from sync_core.store.models import MatchProposalRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.engine.support import agency_map

FIRSTS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Wonka", "Soylent"]
SECONDS = ["Robotics", "Foods", "Shipping", "Analytics", "Textiles", "Optics", "Dairy"]
PAGE = 5
XERO = RecordRef(system="xero", record_type="contact")
DEAL = RecordRef(system="pipedrive", record_type="deal")


class Crash(BaseException):
    """The process dies (nothing catches it)."""


class Counting:
    """Wraps a connector: counts the pages listed, and dies at the ``dies_at``-th."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.system = inner.system
        self.pages: Counter[str] = Counter()
        self.dies_at: int | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        if self.dies_at is not None and self.pages[record_type] + 1 == self.dies_at:
            self.dies_at = None
            raise Crash()
        self.pages[record_type] += 1
        return self.inner.list_changed(record_type, cursor, limit=limit)


def _vendors(clock: FrozenClock) -> dict[str, Counting]:
    """56 won deals in the CRM; accounting holds 42 of their customers typed by hand (with
    the same email domain, or only a similar name), and 7 customers of its own."""
    sandboxes = {n: SandboxConnector(n, n, clock) for n in ("pipedrive", "xero", "asana")}
    deal = 100
    for second in SECONDS:
        for first in FIRSTS:
            name, domain = f"{first} {second}", f"{first}{second}.example".lower()
            sandboxes["pipedrive"].add(
                "deal",
                {
                    "id": deal,
                    "title": "Website",
                    "status": "won",
                    "org_name": f"{name} Ltd",
                    "person_email": f"jane@{domain}",
                },
                external_id=str(deal),
            )
            if deal % 4 == 1:
                sandboxes["xero"].add("contact", {"Name": f"{name} Limited"})  # name only
            elif deal % 4 != 0:
                sandboxes["xero"].add(
                    "contact", {"Name": f"{name} Limited", "EmailAddress": f"ap@{domain}"}
                )
            deal += 1
    for second in SECONDS:
        sandboxes["xero"].add("contact", {"Name": f"Stark {second} Inc"})
    return {name: Counting(sandbox) for name, sandbox in sandboxes.items()}


def _proposals(rows: list[MatchProposalRow]) -> set[tuple[Any, ...]]:
    return {
        (r.canonical_id, r.system, r.external_id, round(r.score, 6), r.band, r.status, r.reasons)
        for r in rows
    }


def test_a_read_killed_part_way_resumes_from_its_checkpoint_and_proposes_the_same(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    integration_map = agency_map()
    clock = FrozenClock()

    # what a run never interrupted proposes (same vendors, a store of its own)
    whole = _vendors(clock)
    expected = match_entity(
        FakeUnitOfWorkFactory(), integration_map, whole, "client", clock=clock.now, page_size=PAGE
    )
    xero_pages = whole["xero"].pages["contact"]
    assert xero_pages == 10 and whole["pipedrive"].pages["deal"] == 12  # a large system, paged
    assert len(expected.proposals) > 20

    vendors = _vendors(clock)
    # killed while reading the 5th page of the CRM: the copies are read first, so accounting
    # was read in full before
    vendors["pipedrive"].dies_at = 5
    with pytest.raises(Crash):
        match_entity(
            uow_factory, integration_map, vendors, "client", clock=clock.now, page_size=PAGE
        )
    with uow_factory() as uow:
        assert uow.matches.for_entity("client") == []  # nothing proposed from half a read
        mark = checkpoint(uow, "client", DEAL)
        assert mark is not None and mark.pages == 4 and not mark.done
        contacts = checkpoint(uow, "client", XERO)
        assert contacts is not None and contacts.done
    assert vendors["pipedrive"].pages["deal"] == 4
    deal_pages = whole["pipedrive"].pages["deal"]

    clock.sleep(60)
    vendors["xero"].pages.clear()
    vendors["pipedrive"].pages.clear()
    report = match_entity(
        uow_factory, integration_map, vendors, "client", clock=clock.now, page_size=PAGE
    )

    # only the rest: the CRM from its 5th page on, accounting not at all
    assert vendors["pipedrive"].pages["deal"] == deal_pages - 4
    assert vendors["xero"].pages["contact"] == 0
    assert report.read == expected.read
    assert _proposals(report.proposals) == _proposals(expected.proposals)
    with uow_factory() as uow:
        assert checkpoint(uow, "client", XERO) is None  # cleared with the proposals
        assert checkpoint(uow, "client", DEAL) is None

    # a later run reads everything again, and finds the same
    vendors["xero"].pages.clear()
    vendors["pipedrive"].pages.clear()
    again = match_entity(
        uow_factory, integration_map, vendors, "client", clock=clock.now, page_size=PAGE
    )
    assert vendors["xero"].pages["contact"] == xero_pages
    assert vendors["pipedrive"].pages["deal"] == deal_pages
    assert _proposals(again.proposals) == _proposals(expected.proposals)
