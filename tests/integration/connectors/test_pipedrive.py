"""The Pipedrive connector against its sandbox over HTTP, every exchange held to Pipedrive's
published v1/v2 specifications.

Fixtures here are shared with ``test_pipedrive_faults.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.base import ConfigError, ConnectorSettings, IdField, UpsertItem
from connectors.clock import FrozenClock
from connectors.http import ExchangeLog
from connectors.pipedrive import PipedriveConnector, build
from connectors.pipedrive.sandbox import PipedriveSandbox
from connectors.registry import ConnectorContext
from connectors.serving import ServedApp
from tests.support.contract import ContractValidator, RecordingTransport

API_TOKEN = "0123456789abcdef0123456789abcdef01234567"
ACCESS_TOKEN = "oauth-access-token-for-the-sandbox-1234"
HANDOFF_ID = IdField.parse("custom_field:Handoff ID")

V1 = ContractValidator.for_spec("pipedrive_v1.yaml")
V2 = ContractValidator.for_spec("pipedrive_v2.yaml")


# Known defects of the published document, asserted rather than skipped: the v2 copy marks
# ``title`` required on POST /persons and POST /organizations (their field is ``name``).
SPEC_DEFECTS = {
    ("POST", "/api/v2/persons"): "'title' is a required property",
    ("POST", "/api/v2/organizations"): "'title' is a required property",
}


def validate(transport: RecordingTransport, skip: set[int] | None = None) -> int:
    """Check each request, and each response whose status the spec declares: Pipedrive's
    documents declare no 4xx/5xx for these operations (so a 401 or 429 has nothing to match)."""
    checked = 0
    for index, exchange in enumerate(transport.exchanges):
        validator = V1 if V1.owns(exchange.request) else V2
        assert validator.owns(exchange.request), exchange.request.url
        request = exchange.request
        defect = SPEC_DEFECTS.get((request.method, request.url.path))
        if defect is None:
            validator.check(request)
        else:
            with pytest.raises(AssertionError) as broken:
                validator.check(request)
            assert defect in str(broken.value) and "InvalidRequestBody" in str(broken.value)
            # Validate the response through a copy that satisfies the defect.
            body = {**json.loads(request.content), "title": "spec defect"}
            request = httpx.Request(request.method, request.url, json=body)
        if skip and index in skip:
            continue
        try:
            validator.check(request, exchange.response)
        except AssertionError as exc:
            undeclared = exchange.response.status_code >= 400 and "ResponseNotFound" in str(exc)
            if not undeclared:
                raise
        checked += 1
    return checked


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def sandbox(clock: FrozenClock) -> PipedriveSandbox:
    return PipedriveSandbox(clock=clock, api_token=API_TOKEN, access_token=ACCESS_TOKEN)


@pytest.fixture
def served(sandbox: PipedriveSandbox) -> Iterator[ServedApp]:
    app = sandbox.serve()
    yield app
    app.shutdown()


class Harness:
    """Builds connectors on one recording transport; teardown validates every exchange."""

    def __init__(self, served: ServedApp, clock: FrozenClock) -> None:
        self.served = served
        self.clock = clock
        self.transport = RecordingTransport()
        self.skip: set[int] = set()  # exchanges a test broke on purpose (malformed JSON)
        self.connectors: list[PipedriveConnector] = []

    def connector(
        self,
        *,
        credentials: dict[str, str] | None = None,
        exchange_log: ExchangeLog | None = None,
        **options: Any,
    ) -> PipedriveConnector:
        settings = ConnectorSettings(
            system="crm",
            connector="pipedrive",
            credentials=credentials if credentials is not None else {"api_token": API_TOKEN},
            options=options,
            base_url=self.served.url,
        )
        context = ConnectorContext(clock=self.clock, exchange_log=exchange_log)
        connector = build(settings, context, transport=self.transport)
        self.connectors.append(connector)
        return connector

    def skip_next(self) -> None:
        self.skip.add(len(self.transport.exchanges))


@pytest.fixture
def harness(served: ServedApp, clock: FrozenClock) -> Iterator[Harness]:
    h = Harness(served, clock)
    yield h
    for connector in h.connectors:
        connector.close()
    validate(h.transport, h.skip)


@pytest.fixture
def pd(harness: Harness) -> PipedriveConnector:
    return harness.connector(company_domain="acme")


def seed_deals(sandbox: PipedriveSandbox, clock: FrozenClock, count: int) -> list[int]:
    org = sandbox.add_organization("Acme Ltd", address="1 High St")
    person = sandbox.add_person("Ann Smith", email="ann@acme.test", org_id=org["id"])
    ids = []
    for n in range(count):
        clock.advance(60)
        deal = sandbox.add_deal(
            f"Deal {n}",
            value=100 * n,
            org_id=org["id"],
            person_id=person["id"],
            custom={"Handoff ID": f"HO-{n}"},
        )
        ids.append(deal["id"])
    return ids


# -- reading -------------------------------------------------------------------------------


def test_list_changed_pages_then_resumes_from_the_cursor(
    pd: PipedriveConnector, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    ids = seed_deals(sandbox, clock, 5)
    seen, cursor, pages = [], None, 0
    while True:
        page = pd.list_changed("deal", cursor, limit=2)
        seen += [r.external_id for r in page.records]
        cursor, pages = page.cursor, pages + 1
        if not page.has_more:
            break
    assert seen == [str(i) for i in ids] and pages == 3

    clock.advance(3600)
    sandbox.update("deal", ids[1], title="Deal 1 (renamed)")
    page = pd.list_changed("deal", cursor, limit=10)
    changed = {r.external_id: r for r in page.records}
    assert str(ids[1]) in changed and len(changed) <= 2  # the boundary record may come again
    assert changed[str(ids[1])].fields["title"] == "Deal 1 (renamed)"
    assert not pd.list_changed("deal", page.cursor, limit=10).records[1:]


def test_deal_records_are_flat_with_names_custom_fields_and_links(
    pd: PipedriveConnector, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    seed_deals(sandbox, clock, 1)
    (record,) = pd.list_changed("deal", None).records
    fields = record.fields
    assert fields["org_name"] == "Acme Ltd"
    assert fields["person_name"] == "Ann Smith" and fields["person_email"] == "ann@acme.test"
    assert fields["Handoff ID"] == "HO-0" and fields["status"] == "open"
    assert not any(len(k) == 40 for k in fields)  # no generated keys leak out
    assert record.display_name == "Deal 0"
    assert record.url == f"https://acme.pipedrive.com/deal/{record.external_id}"
    assert record.updated_at is not None and record.updated_at.tzinfo is not None
    assert pd.deep_link("person", "7") == "https://acme.pipedrive.com/person/7"
    assert pd.deep_link("organization", "3") == "https://acme.pipedrive.com/organization/3"


def test_persons_and_organizations(pd: PipedriveConnector, sandbox: PipedriveSandbox) -> None:
    org = sandbox.add_organization("Beta GmbH", address="Hauptstr. 1, Berlin")
    sandbox.add_person("Bo", email="bo@beta.test", phone="+49 30 1", org_id=org["id"])
    (person,) = pd.list_changed("person", None).records
    assert person.fields["email"] == "bo@beta.test" and person.fields["phone"] == "+49 30 1"
    assert person.fields["org_name"] == "Beta GmbH"
    (organization,) = pd.list_changed("organization", None).records
    assert organization.fields["address"] == "Hauptstr. 1, Berlin"


def test_records_carry_their_owner_and_it_can_be_written(
    pd: PipedriveConnector, sandbox: PipedriveSandbox
) -> None:
    org = sandbox.add_organization("Owned Ltd")
    (organization,) = pd.list_changed("organization", None).records
    assert organization.fields["owner_id"] == 1
    assert organization.fields["owner_name"] == "Sandbox Owner"
    ann = sandbox.add_user("Ann Owner", "ann@owner.test")
    sandbox.update("organization", org["id"], owner_id=ann["id"])  # a user added since
    (organization,) = pd.list_changed("organization", None).records
    assert organization.fields["owner_name"] == "Ann Owner"
    deal = sandbox.add_deal("Owned deal", org_id=org["id"])
    assert pd.get("deal", str(deal["id"])).fields["owner_name"] == "Sandbox Owner"
    pd.update("organization", organization.external_id, {"owner_id": 1})
    assert sandbox.records("organization")[0]["owner_id"] == 1
    person = sandbox.add_person("Pat", org_id=org["id"])
    assert pd.get("person", str(person["id"])).fields["owner_name"] == "Sandbox Owner"
    pd.update("person", str(person["id"]), {"owner_id": ann["id"]})
    pd.update("deal", str(deal["id"]), {"owner_id": ann["id"]})
    assert pd.get("person", str(person["id"])).fields["owner_name"] == "Ann Owner"
    assert pd.get("deal", str(deal["id"])).fields["owner_name"] == "Ann Owner"


def test_a_won_deal_shows_its_status_and_won_time(
    pd: PipedriveConnector, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    (deal_id,) = seed_deals(sandbox, clock, 1)
    sandbox.win_deal(deal_id)
    record = pd.get("deal", str(deal_id))
    assert record.fields["status"] == "won" and record.fields["won_time"]


# -- canonical IDs and writes ----------------------------------------------------------------


def test_find_by_canonical_id(
    pd: PipedriveConnector, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    ids = seed_deals(sandbox, clock, 3)
    found = pd.find_by_canonical_id("deal", HANDOFF_ID, "HO-2")
    assert found is not None and found.external_id == str(ids[2])
    assert pd.find_by_canonical_id("deal", HANDOFF_ID, "HO-9") is None
    assert pd.find_by_canonical_id("deal", IdField.plain("id"), str(ids[0])) is not None
    assert pd.find_by_canonical_id("deal", IdField.plain("id"), "999") is None


def test_find_before_the_field_exists_creates_nothing(
    pd: PipedriveConnector, sandbox: PipedriveSandbox
) -> None:
    assert pd.find_by_canonical_id("deal", HANDOFF_ID, "HO-1") is None
    assert sandbox.state.field_key("deal", "Handoff ID") is None


def test_create_stamps_the_canonical_id_and_creates_missing_fields(
    pd: PipedriveConnector, sandbox: PipedriveSandbox
) -> None:
    org = sandbox.add_organization("Gamma")
    record = pd.create(
        "deal",
        {
            "title": "Gamma – Audit",
            "value": 1200,
            "currency": "GBP",
            "org_id": org["id"],
            "Invoice status": "draft",
        },
        id_field=HANDOFF_ID,
        canonical_id="HO-77",
    )
    ident = int(record.external_id)
    assert sandbox.custom_value("deal", ident, "Handoff ID") == "HO-77"
    assert sandbox.custom_value("deal", ident, "Invoice status") == "draft"
    assert record.fields["Handoff ID"] == "HO-77" and record.fields["org_name"] == "Gamma"
    assert pd.find_by_canonical_id("deal", HANDOFF_ID, "HO-77") == record


def test_update_standard_and_custom_fields(
    pd: PipedriveConnector, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    (deal_id,) = seed_deals(sandbox, clock, 1)
    record = pd.update(
        "deal", str(deal_id), {"status": "won", "Asana project": "https://app.asana.com/0/1"}
    )
    assert record.fields["status"] == "won"
    assert sandbox.custom_value("deal", deal_id, "Asana project") == "https://app.asana.com/0/1"
    long_text = "x" * 300
    pd.update("deal", str(deal_id), {"Notes from Xero": long_text})
    field = next(f for f in sandbox.state.fields["deal"] if f["name"] == "Notes from Xero")
    assert field["field_type"] == "text"


def test_upsert_twice_makes_one_record(pd: PipedriveConnector, sandbox: PipedriveSandbox) -> None:
    item = UpsertItem(
        record_type="deal",
        id_field=HANDOFF_ID,
        canonical_id="HO-5",
        fields={"title": "Delta – Retainer", "value": 500},
        idempotency_key="event-1",
    )
    first, second = pd.upsert_many([item]), pd.upsert_many([item])
    assert first[0].created and not second[0].created
    assert first[0].record and second[0].record
    assert first[0].record.external_id == second[0].record.external_id
    assert len(sandbox.records("deal")) == 1


def test_person_custom_fields_and_writes(pd: PipedriveConnector, sandbox: PipedriveSandbox) -> None:
    person = sandbox.add_person("Cy", email="cy@old.test", custom={"Handoff ID": "P-1"})
    found = pd.find_by_canonical_id("person", HANDOFF_ID, "P-1")
    assert found is not None and found.external_id == str(person["id"])
    updated = pd.update("person", found.external_id, {"email": "cy@new.test", "Tier": "gold"})
    assert updated.fields["email"] == "cy@new.test" and updated.fields["Tier"] == "gold"


def test_create_person_and_organization(pd: PipedriveConnector, sandbox: PipedriveSandbox) -> None:
    org = pd.create(
        "organization",
        {"name": "Epsilon", "address": "2 Low Rd"},
        id_field=HANDOFF_ID,
        canonical_id="O-1",
    )
    person = pd.create(
        "person",
        {"name": "Eve", "email": "eve@eps.test", "org_id": int(org.external_id)},
        id_field=HANDOFF_ID,
        canonical_id="P-9",
    )
    assert person.fields["org_name"] == "Epsilon" and person.fields["email"] == "eve@eps.test"
    assert org.fields["address"] == "2 Low Rd" and org.fields["Handoff ID"] == "O-1"
    assert sandbox.custom_value("person", int(person.external_id), "Handoff ID") == "P-9"


def test_a_field_added_in_the_web_app_is_picked_up(
    pd: PipedriveConnector, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    (deal_id,) = seed_deals(sandbox, clock, 1)
    assert "Region" not in pd.get("deal", str(deal_id)).fields
    sandbox.update("deal", deal_id, custom={"Region": "EMEA"})
    assert pd.get("deal", str(deal_id)).fields["Region"] == "EMEA"


def test_the_registry_builds_it() -> None:
    from connectors.registry import factory_for

    assert factory_for("pipedrive") is build


def test_configuration_mistakes_are_config_errors(harness: Harness, pd: PipedriveConnector) -> None:
    with pytest.raises(ConfigError, match="api_token"):
        harness.connector(credentials={})
    with pytest.raises(ConfigError, match="custom_field"):
        pd.find_by_canonical_id("deal", IdField.plain("title"), "x")
    with pytest.raises(ConfigError, match="org_name"):
        pd.update("deal", "1", {"org_name": "nope"})
    with pytest.raises(ConfigError, match="record type"):
        pd.list_changed("invoice", None)


def test_every_record_type_is_in_the_catalog(pd: PipedriveConnector) -> None:
    from connectors.pipedrive.records import RECORD_TYPES as PIPEDRIVE

    assert set(pd.record_types()) == set(PIPEDRIVE)
