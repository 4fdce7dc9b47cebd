"""`handoff match apply` against accounting that batches writes (the Xero sandbox over HTTP):
the canonical IDs are stamped fifty records a call, not one record a call; killed after the
vendor wrote a batch and before it was booked, the next run stamps each record once more at
most (the same value) and books every link once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from connectors.base import ConnectorSettings, UpsertItem, UpsertResult
from connectors.capabilities import BatchedUpsert
from connectors.clock import FrozenClock
from connectors.registry import ConnectorContext
from connectors.sandbox import SandboxConnector
from connectors.serving import ServedApp
from connectors.xero import XeroConnector, build
from connectors.xero.sandbox import XeroSandbox
from sync_core.matching.apply import apply_accepted
from sync_core.matching.resumable import match_entity
from sync_core.store.models import ActionRow, LinkRow
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
    settings = ConnectorSettings(
        system="xero",
        connector="xero",
        credentials={
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "refresh_token": sandbox.refresh_token,
            "tenant_id": sandbox.tenant_id,
        },
        options={},
        base_url=served.url,
    )
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


def test_apply_stamps_through_the_batch_endpoint_and_a_kill_half_way_stamps_once(
    uow_factory: SqlUnitOfWorkFactory,
    xero: tuple[XeroSandbox, XeroConnector, RecordingTransport],
) -> None:
    sandbox, client, transport = xero
    assert isinstance(client, BatchedUpsert) and client.batch_size == 50
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
    assert calls["POST Contacts"] == 2  # 50 + 6: one call a batch
    assert sum(n for call, n in calls.items() if call.startswith("GET Contacts/")) == 0
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
