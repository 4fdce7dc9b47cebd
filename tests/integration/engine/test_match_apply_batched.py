"""`handoff match apply` against accounting that batches writes (the Xero sandbox over HTTP):
the records are read and their canonical IDs stamped fifty records a call, not one record a
call; killed after the vendor wrote a batch and before it was booked, the next run finds that
batch stamped and books every link once; a record given another canonical ID by hand after
matching is never overwritten."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from connectors.base import UpsertItem, UpsertResult
from connectors.capabilities import BatchedUpsert
from connectors.clock import FrozenClock
from connectors.registry import ConnectorContext
from connectors.sandbox import SandboxConnector
from connectors.serving import ServedApp
from connectors.xero import XeroConnector, build
from connectors.xero.sandbox import XeroSandbox
from sync_core.map.model import IntegrationMap
from sync_core.matching.apply import apply_accepted
from sync_core.matching.resumable import match_entity
from sync_core.store.models import ActionRow, LinkRow, MatchProposalRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.integration.engine.golive_support import rows
from tests.support.contract import RecordingTransport
from tests.unit.engine.support import agency_map

FIRSTS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Wonka", "Soylent"]
SECONDS = ["Robotics", "Foods", "Shipping", "Analytics", "Textiles", "Optics", "Dairy"]
CUSTOMERS = len(FIRSTS) * len(SECONDS)  # 56: two batches of Xero's fifty


class Crash(BaseException):
    """The process dies (nothing catches it)."""


class DiesAfterTheVendorWrote:
    """Wraps the Xero client: its first batch is written, then the process dies before
    anything is booked."""

    def __init__(self, inner: XeroConnector) -> None:
        self.inner = inner
        self.system = inner.system
        self.batch_size = inner.batch_size

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upsert_many(self, items: Sequence[UpsertItem]) -> list[UpsertResult]:
        self.inner.upsert_many(items)
        raise Crash()


@pytest.fixture
def xero(tmp_path: Any) -> Iterator[tuple[XeroSandbox, XeroConnector, RecordingTransport]]:
    clock = FrozenClock()
    sandbox = XeroSandbox(clock)
    served: ServedApp = sandbox.serve()
    transport = RecordingTransport()
    settings = sandbox.settings(served.url)
    client = build(settings, ConnectorContext(clock=clock), transport=transport)
    yield sandbox, client, transport
    client.close()
    served.shutdown()


def _calls(transport: RecordingTransport) -> Counter[str]:
    return Counter(
        f"{e.request.method} {e.request.url.path.split('/api.xro/2.0/')[-1]}"
        for e in transport.exchanges
        if "/api.xro/2.0/" in e.request.url.path
    )


def _matched(
    uow_factory: SqlUnitOfWorkFactory, sandbox: XeroSandbox, client: Any
) -> tuple[IntegrationMap, dict[str, Any]]:
    """Fifty-six CRM deals and their Xero twins, matched: every proposal accepted."""
    clock = FrozenClock()
    crm = SandboxConnector("pipedrive", "pipedrive", clock)
    deal = 100
    for second in SECONDS:
        for first in FIRSTS:
            name, domain = f"{first} {second}", f"{first}{second}.example".lower()
            crm.add(
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
            sandbox.add_contact(Name=f"{name} Limited", EmailAddress=f"ap@{domain}")
            deal += 1
    integration_map = agency_map()
    connectors: dict[str, Any] = {
        "pipedrive": crm,
        "xero": client,
        "asana": SandboxConnector("asana", "asana", clock),
    }
    report = match_entity(uow_factory, integration_map, connectors, "client", clock=clock.now)
    assert report.counts == {"accepted": CUSTOMERS}  # every twin backed by its email domain
    return integration_map, connectors


def _posted(transport: RecordingTransport) -> list[str]:
    """The ContactIDs the batched POSTs wrote."""
    return [
        contact["ContactID"]
        for e in transport.exchanges
        if e.request.method == "POST" and e.request.url.path.endswith("/api.xro/2.0/Contacts")
        for contact in json.loads(e.request.content)["Contacts"]
    ]


def test_apply_stamps_through_the_batch_endpoint_and_a_kill_half_way_stamps_once(
    uow_factory: SqlUnitOfWorkFactory,
    xero: tuple[XeroSandbox, XeroConnector, RecordingTransport],
) -> None:
    sandbox, client, transport = xero
    assert isinstance(client, BatchedUpsert) and client.batch_size == 50
    clock = FrozenClock()
    integration_map, connectors = _matched(uow_factory, sandbox, client)

    dying = {**connectors, "xero": DiesAfterTheVendorWrote(client)}
    with pytest.raises(Crash):
        apply_accepted(
            uow_factory, integration_map, dying, "client", actor="U0ADMIN1", clock=clock.now
        )
    stamped = [c for c in sandbox.contacts() if c.get("ContactNumber")]
    assert len(stamped) == 50  # the vendor wrote the first batch; nothing was booked
    assert [link for link in rows(uow_factory, LinkRow) if link.system == "xero"] == []

    transport.exchanges.clear()
    applied = apply_accepted(
        uow_factory, integration_map, connectors, "client", actor="U0ADMIN1", clock=clock.now
    )

    assert len(applied.applied) == CUSTOMERS and applied.failed == []
    calls = _calls(transport)
    assert calls["GET Contacts"] == 2  # 50 + 6 read: one call a batch
    assert sum(n for call, n in calls.items() if call.startswith("GET Contacts/")) == 0
    # the 50 the vendor wrote before the kill are read stamped and linked without a write
    assert calls["POST Contacts"] == 1
    assert len(_posted(transport)) == CUSTOMERS - 50
    assert calls["PUT Contacts"] == 0  # nothing created
    contacts = sandbox.contacts()
    assert len(contacts) == CUSTOMERS
    numbers = Counter(c.get("ContactNumber") for c in contacts)
    assert set(numbers.values()) == {1} and None not in numbers  # each stamped, once each
    links = [link for link in rows(uow_factory, LinkRow) if link.system == "xero"]
    assert len(links) == CUSTOMERS
    assert len({(link.system, link.external_id) for link in links}) == CUSTOMERS
    adopted = [a for a in rows(uow_factory, ActionRow) if a.action == "adopt"]
    assert len(adopted) == CUSTOMERS and {a.actor for a in adopted} == {"U0ADMIN1"}
    by_number = {c["ContactNumber"]: c["ContactID"] for c in contacts}
    assert {(link.canonical_id, link.external_id) for link in links} == set(by_number.items())

    transport.exchanges.clear()
    again = apply_accepted(
        uow_factory, integration_map, connectors, "client", actor="U0ADMIN1", clock=clock.now
    )
    assert again.applied == [] and _calls(transport)["POST Contacts"] == 0


class WithoutBatchedRead:
    """The Xero client as a vendor that batches writes but reads one record a call."""

    def __init__(self, inner: XeroConnector) -> None:
        self.inner = inner
        self.system = inner.system
        self.batch_size = inner.batch_size

    def __getattr__(self, name: str) -> Any:
        if name == "get_many":
            raise AttributeError(name)
        return getattr(self.inner, name)


def _typed_by_hand(
    uow_factory: SqlUnitOfWorkFactory, client: XeroConnector
) -> tuple[MatchProposalRow, MatchProposalRow]:
    """Between `handoff match` and `handoff match apply`: someone types another canonical ID
    into one matched contact, and another process stamps a second one with its own."""
    first, second = sorted(rows(uow_factory, MatchProposalRow), key=lambda p: p.id)[:2]
    client.update("contact", first.external_id, {"ContactNumber": "XC-TYPED-1"})
    client.update("contact", second.external_id, {"ContactNumber": second.canonical_id})
    return first, second


@pytest.mark.parametrize("batched_read", [True, False], ids=["batched-read", "one-read-a-record"])
def test_a_record_given_another_canonical_id_after_matching_is_not_overwritten(
    uow_factory: SqlUnitOfWorkFactory,
    xero: tuple[XeroSandbox, XeroConnector, RecordingTransport],
    batched_read: bool,
) -> None:
    sandbox, client, transport = xero
    clock = FrozenClock()
    integration_map, connectors = _matched(uow_factory, sandbox, client)
    typed, same = _typed_by_hand(uow_factory, client)
    if not batched_read:
        connectors["xero"] = WithoutBatchedRead(client)
    transport.exchanges.clear()

    report = apply_accepted(
        uow_factory, integration_map, connectors, "client", actor="U0ADMIN1", clock=clock.now
    )

    reason = f"xero.contact {typed.external_id} carries the canonical ID XC-TYPED-1 already"
    refusal = f"{typed.canonical_id} → xero.contact {typed.external_id}: {reason}"
    assert (report.failed, report.refused) == ([], [refusal])
    assert len(report.applied) == CUSTOMERS - 1
    numbers = {c["ContactID"]: c.get("ContactNumber") for c in sandbox.contacts()}
    assert numbers[typed.external_id] == "XC-TYPED-1"  # not overwritten
    assert numbers[same.external_id] == same.canonical_id
    posted = _posted(transport)
    assert typed.external_id not in posted and same.external_id not in posted
    assert len(posted) == CUSTOMERS - 2  # the one stamped meanwhile is linked, not written
    calls = _calls(transport)
    one_by_one = sum(n for call, n in calls.items() if call.startswith("GET Contacts/"))
    if batched_read:
        assert calls["GET Contacts"] == 2 and one_by_one == 0  # 56 read in two calls
    else:
        assert calls["GET Contacts"] == 0 and one_by_one == CUSTOMERS
    links = {link.external_id: link.canonical_id for link in rows(uow_factory, LinkRow)}
    assert typed.external_id not in links
    assert links[same.external_id] == same.canonical_id
    proposals = {p.id: (p.status, p.band) for p in rows(uow_factory, MatchProposalRow)}
    assert proposals[typed.id] == ("open", "review")  # back to a person: fix it, or reject
    assert proposals[same.id][0] == "applied"

    transport.exchanges.clear()
    again = apply_accepted(
        uow_factory, integration_map, connectors, "client", actor="U0ADMIN1", clock=clock.now
    )
    assert (again.applied, again.failed, again.refused) == ([], [], [])
    assert transport.exchanges == []  # nothing left to read or write
    assert {c["ContactID"]: c.get("ContactNumber") for c in sandbox.contacts()} == numbers
    # in the audit log with who ran apply and why, once
    refused = [a for a in rows(uow_factory, ActionRow) if a.action == "match_conflict"]
    assert [(a.subject, a.actor, a.reason) for a in refused] == [
        (typed.canonical_id, "U0ADMIN1", reason)
    ]

    # matching again (from the read it kept) never accepts the refused one automatically
    match_entity(uow_factory, integration_map, connectors, "client", clock=clock.now)
    proposals = {p.id: (p.status, p.band) for p in rows(uow_factory, MatchProposalRow)}
    assert proposals[typed.id] == ("open", "review")
