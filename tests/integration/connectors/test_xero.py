"""The Xero client against the Xero sandbox over HTTP; every exchange checked against Xero's
published OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ConfigError, ConnectorSettings, IdField, Permanent, UpsertItem
from connectors.clock import FrozenClock
from connectors.http import ExchangeLog
from connectors.registry import ConnectorContext
from connectors.serving import ServedApp
from connectors.xero import JsonFileTokenStore, XeroConnector, build
from connectors.xero.resources import RECORD_TYPES as XERO
from connectors.xero.sandbox import XeroSandbox
from tests.support.contract import ContractValidator, RecordingTransport

SPEC = "xero_accounting.yaml"
# The only statuses Xero's spec declares for these operations; other answers (401, 429, 5xx)
# are checked on the request side only.
DECLARED = {200, 400}

Factory = Callable[..., XeroConnector]

pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def sandbox(clock: FrozenClock) -> XeroSandbox:
    return XeroSandbox(clock)


@pytest.fixture
def served(sandbox: XeroSandbox) -> Iterator[ServedApp]:
    app = sandbox.serve()
    yield app
    app.shutdown()


@pytest.fixture
def transport() -> Iterator[RecordingTransport]:
    recording = RecordingTransport()
    yield recording
    validator = ContractValidator.for_spec(SPEC)
    for exchange in recording.exchanges:
        if not validator.owns(exchange.request):
            continue
        response = exchange.response
        try:
            json.loads(response.content)
            is_json = True
        except ValueError:
            is_json = False
        if response.status_code in DECLARED and is_json:
            validator.check(exchange.request, response)
        else:
            validator.check(exchange.request)


@pytest.fixture
def connector(
    sandbox: XeroSandbox,
    served: ServedApp,
    clock: FrozenClock,
    transport: RecordingTransport,
    tmp_path: Path,
) -> Iterator[Factory]:
    built: list[XeroConnector] = []

    def make(
        *, log: ExchangeLog | None = None, credentials: dict[str, str] | None = None, **options: Any
    ) -> XeroConnector:
        creds = {**sandbox.credentials(), **(credentials or {})}
        settings = ConnectorSettings(
            system="xero",
            connector="xero",
            credentials=creds,
            options=options,
            base_url=served.url,
        )
        client = build(
            settings, ConnectorContext(clock=clock, exchange_log=log), transport=transport
        )
        built.append(client)
        return client

    yield make
    for client in built:
        client.close()


def item(number: str, name: str, **fields: Any) -> UpsertItem:
    return UpsertItem(
        record_type="contact",
        id_field=IdField.plain("ContactNumber"),
        canonical_id=number,
        fields={"Name": name, **fields},
        idempotency_key=f"event-{number}-{name}",
    )


def api_calls(transport: RecordingTransport) -> list[str]:
    return [
        f"{e.request.method} {e.request.url.path}"
        for e in transport.exchanges
        if "/api.xro/2.0/" in e.request.url.path
    ]


# -- change detection ------------------------------------------------------------------------


def test_list_changed_pages_then_picks_up_only_new_changes(
    connector: Factory, sandbox: XeroSandbox, clock: FrozenClock
) -> None:
    for n in range(5):
        sandbox.add_contact(Name=f"Org {n}", ContactNumber=f"PD-{n}")
        clock.advance(1)
    xero = connector()

    pages, cursor = [], None
    while True:
        page = xero.list_changed("contact", cursor, limit=2)
        pages.append([r.fields["Name"] for r in page.records])
        cursor = page.cursor
        if not page.has_more:
            break
    assert pages == [["Org 0", "Org 1"], ["Org 2", "Org 3"], ["Org 4"]]

    clock.advance(60)
    sandbox.add_contact(Name="Org new", ContactNumber="PD-9")
    clock.advance(1)
    first = xero.find_by_canonical_id("contact", IdField.plain("ContactNumber"), "PD-0")
    assert first is not None
    xero.update("contact", first.external_id, {"EmailAddress": "ap@org0.example"})

    # The next sweep starts a second before the newest change it saw, so a record changed in
    # that same instant cannot be missed; "Org 4" comes back once, which makes no new event.
    names: list[str] = []
    while True:
        page = xero.list_changed("contact", cursor, limit=2)
        names += [r.fields["Name"] for r in page.records]
        cursor = page.cursor
        if not page.has_more:
            break
    assert names == ["Org 4", "Org new", "Org 0"]
    org0 = xero.get("contact", first.external_id)
    assert org0.fields["EmailAddress"] == "ap@org0.example"
    assert org0.updated_at is not None and org0.updated_at.tzinfo
    again = xero.list_changed("contact", cursor, limit=2)
    assert [r.fields["Name"] for r in again.records] == ["Org 0"]  # only the overlap
    assert not again.has_more


def test_records_carry_catalog_fields_dates_and_deep_links(
    connector: Factory, sandbox: XeroSandbox
) -> None:
    seeded = sandbox.add_contact(Name="Acme Ltd", ContactNumber="PD-1", EmailAddress="a@acme.io")
    record = connector().get("contact", seeded["ContactID"])
    assert record.display_name == "Acme Ltd"
    assert record.url == f"https://go.xero.com/Contacts/View/{seeded['ContactID']}"
    assert record.fields["UpdatedDateUTC"] == "2026-01-05T09:00:00Z"
    assert set(record.fields) <= XERO["contact"].fields
    assert record.fields["ContactNumber"] == "PD-1"


def test_contacts_carry_their_contact_groups(connector: Factory, sandbox: XeroSandbox) -> None:
    group = {"ContactGroupID": "d7a86b80-8dac-4d89-a334-9dcf5753676c", "Name": "Retainer"}
    grouped = sandbox.add_contact(Name="Grouped Ltd", ContactGroups=[{**group, "Status": "ACTIVE"}])
    plain = sandbox.add_contact(Name="Plain Ltd")
    xero = connector()
    assert xero.get("contact", grouped["ContactID"]).fields["ContactGroups"] == [
        {**group, "Status": "ACTIVE"}
    ]
    assert xero.get("contact", plain["ContactID"]).fields["ContactGroups"] == []


def test_deep_link_selects_the_organisation_with_its_short_code(connector: Factory) -> None:
    xero = connector(short_code="!NLglS")
    assert xero.deep_link("invoice", "abc") == (
        "https://go.xero.com/organisationlogin/default.aspx?shortcode=%21NLglS"
        "&redirecturl=/AccountsReceivable/View.aspx?InvoiceID=abc"
    )


def test_invoices_flatten_contact_and_totals(connector: Factory, sandbox: XeroSandbox) -> None:
    contact = sandbox.add_contact(Name="Acme Ltd", ContactNumber="PD-1")
    sandbox.add_invoice(
        Contact={"ContactID": contact["ContactID"]},
        Reference="PD-DEAL-7",
        LineItems=[{"Description": "Design", "Quantity": 2, "UnitAmount": 150.0}],
    )
    xero = connector()
    page = xero.list_changed("invoice", None)
    (invoice,) = page.records
    assert invoice.fields["Contact"] == {"ContactID": contact["ContactID"], "Name": "Acme Ltd"}
    assert invoice.fields["Total"] == 300.0
    assert invoice.display_name == "INV-0001"
    assert invoice.url and invoice.url.endswith(f"InvoiceID={invoice.external_id}")

    found = xero.find_by_canonical_id("invoice", IdField.plain("Reference"), "PD-DEAL-7")
    assert found is not None and found.external_id == invoice.external_id
    created = xero.create(
        "invoice",
        {
            "Type": "ACCREC",
            "Contact": {"ContactID": contact["ContactID"]},
            "LineItems": [{"Description": "Build", "Quantity": 1, "UnitAmount": 99.5}],
        },
        id_field=IdField.plain("Reference"),
        canonical_id="PD-DEAL-8",
    )
    assert created.fields["Reference"] == "PD-DEAL-8" and created.fields["Total"] == 99.5


# -- writing by canonical ID -----------------------------------------------------------------


def test_find_create_and_update_by_canonical_id(connector: Factory, sandbox: XeroSandbox) -> None:
    xero = connector()
    assert xero.find_by_canonical_id("contact", IdField.plain("ContactNumber"), "PD-42") is None
    created = xero.create(
        "contact",
        {"Name": "Globex"},
        id_field=IdField.plain("ContactNumber"),
        canonical_id="PD-42",
        idempotency_key="event-1",
    )
    assert created.fields["ContactNumber"] == "PD-42"
    assert [c["ContactNumber"] for c in sandbox.contacts()] == ["PD-42"]

    found = xero.find_by_canonical_id("contact", IdField.plain("ContactNumber"), "PD-42")
    assert found is not None and found.external_id == created.external_id
    updated = xero.update("contact", created.external_id, {"EmailAddress": "ap@globex.example"})
    assert updated.fields["EmailAddress"] == "ap@globex.example"


def test_writes_carry_an_idempotency_key_and_a_replay_writes_nothing(
    connector: Factory, sandbox: XeroSandbox, transport: RecordingTransport
) -> None:
    xero = connector()
    first = xero.create(
        "contact",
        {"Name": "Initech"},
        id_field=IdField.plain("ContactNumber"),
        canonical_id="PD-7",
        idempotency_key="event-7",
    )
    again = xero.create(
        "contact",
        {"Name": "Initech"},
        id_field=IdField.plain("ContactNumber"),
        canonical_id="PD-7",
        idempotency_key="event-7",
    )
    assert again.external_id == first.external_id
    assert len(sandbox.contacts()) == 1
    writes = [
        e
        for e in transport.exchanges
        if e.request.method in ("PUT", "POST") and "/api.xro/" in e.request.url.path
    ]
    assert all(e.request.headers["Idempotency-Key"] == "event-7" for e in writes)


def test_upsert_twice_leaves_one_record_per_canonical_id(
    connector: Factory, sandbox: XeroSandbox
) -> None:
    xero = connector()
    items = [item("PD-1", "Acme"), item("PD-2", "Globex")]
    first = xero.upsert_many(items)
    second = xero.upsert_many([item("PD-1", "Acme"), item("PD-2", "Globex Corp")])
    assert [r.created for r in first] == [True, True]
    assert [r.created for r in second] == [False, False]
    assert [r.error for r in first + second] == [None] * 4
    assert sorted(c["Name"] for c in sandbox.contacts()) == ["Acme", "Globex Corp"]


def test_upsert_many_batches_fifty_and_keeps_each_items_error(
    connector: Factory, sandbox: XeroSandbox, transport: RecordingTransport
) -> None:
    sandbox.add_contact(Name="Taken Name", ContactNumber="OTHER-1")
    sandbox.add_contact(Name="Existing 3", ContactNumber="PD-3")
    xero = connector()
    items = [item(f"PD-{n}", f"Org {n}") for n in range(120)]
    items[5] = item("PD-5", "Taken Name")  # Xero wants contact names unique
    items.append(item("PD-0", "Org 0 renamed"))  # the same canonical ID twice in one call

    results = xero.upsert_many(items)

    bad = results[5]
    assert isinstance(bad.error, Permanent) and bad.http_status == 400
    assert "already assigned to another contact" in str(bad.error)
    assert [i for i, r in enumerate(results) if r.error] == [5]
    assert results[3].created is False and results[4].created is True
    assert results[-1].created is False
    assert results[-1].record and results[-1].record.fields["Name"] == "Org 0 renamed"
    numbers = [c["ContactNumber"] for c in sandbox.contacts()]
    assert len(numbers) == len(set(numbers)) == 120  # 118 new + 2 seeded
    # 3 batches: a where query, a PUT and (with an existing record) a POST each;
    # then one round for the repeated canonical ID.
    assert api_calls(transport).count("GET /api.xro/2.0/Contacts") == 4
    assert api_calls(transport).count("PUT /api.xro/2.0/Contacts") == 3


def test_get_many_reads_fifty_records_a_call_by_their_ids(
    connector: Factory, sandbox: XeroSandbox, transport: RecordingTransport
) -> None:
    ids = [sandbox.add_contact(Name=f"Org {n}")["ContactID"] for n in range(60)]
    archived = sandbox.add_contact(Name="Gone Ltd", ContactStatus="ARCHIVED")["ContactID"]
    missing = "00000000-0000-4000-8000-000000000000"
    xero = connector()
    asked = [*ids, archived, missing]

    found = xero.get_many("contact", asked)

    assert set(found) == {*ids, archived}  # one that does not exist is left out
    assert found[ids[7]].fields["Name"] == "Org 7" and found[ids[7]].external_id == ids[7]
    assert found[archived].fields["ContactStatus"] == "ARCHIVED"
    gets = [e.request.url for e in transport.exchanges if e.request.method == "GET"]
    gets = [url for url in gets if url.path == "/api.xro/2.0/Contacts"]
    assert len(gets) == 2  # 62 ids: 50, then 12
    assert [len(url.params["IDs"].split(",")) for url in gets] == [50, 12]
    assert xero.get_many("contact", []) == {}


def test_custom_fields_are_refused_for_canonical_ids(connector: Factory) -> None:
    xero = connector()
    with pytest.raises(ConfigError, match="no custom fields"):
        xero.find_by_canonical_id("contact", IdField.parse("custom_field:Pipedrive deal"), "PD-1")
    (result,) = xero.upsert_many(
        [UpsertItem("contact", IdField.parse("custom_field:Deal"), "PD-1", {"Name": "X"}, "k")]
    )
    assert isinstance(result.error, ConfigError)
    with pytest.raises(ConfigError, match="not writable"):
        xero.create(
            "contact",
            {"Nickname": "x"},
            id_field=IdField.plain("ContactNumber"),
            canonical_id="PD-1",
        )


# -- credentials -----------------------------------------------------------------------------


def test_wrong_client_secret_is_a_config_error(connector: Factory) -> None:
    xero = connector(credentials={"client_secret": "wrong"})
    with pytest.raises(ConfigError, match="re-authorise"):
        xero.list_changed("contact", None)


def test_wrong_tenant_is_permanent(connector: Factory) -> None:
    xero = connector(credentials={"tenant_id": "someone-else"})
    with pytest.raises(Permanent) as caught:
        xero.list_changed("contact", None)
    assert caught.value.http_status == 403


def test_missing_credentials_are_named(clock: FrozenClock) -> None:
    settings = ConnectorSettings(system="xero", connector="xero", credentials={"client_id": "x"})
    with pytest.raises(ConfigError, match="client_secret, refresh_token, tenant_id"):
        build(settings, ConnectorContext(clock=clock))


def test_rotated_refresh_token_is_stored_before_use_and_survives_restart(
    connector: Factory, sandbox: XeroSandbox, tmp_path: Path, clock: FrozenClock
) -> None:
    token_file = tmp_path / "xero-tokens.json"
    configured = sandbox.refresh_token
    connector(token_file=str(token_file)).list_changed("contact", None)
    stored = JsonFileTokenStore(token_file).load()
    assert stored is not None and stored.refresh_token == sandbox.refresh_token != configured
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    # A restart with the (now spent) configured token still works: the file wins.
    restarted = connector(token_file=str(token_file), credentials={"refresh_token": configured})
    clock.advance(31 * 60)  # the stored access token has expired: refresh with the stored one
    restarted.list_changed("contact", None)
    assert sandbox.token_grants == 2


def test_access_token_expiry_on_the_clock_refreshes_first(
    connector: Factory, sandbox: XeroSandbox, clock: FrozenClock
) -> None:
    xero = connector()
    xero.list_changed("contact", None)
    clock.advance(31 * 60)
    xero.list_changed("contact", None)
    assert sandbox.token_grants == 2
    assert all(status != 401 for _, _, status in sandbox.calls)


def test_exchange_log_holds_no_credentials(
    connector: Factory, sandbox: XeroSandbox, tmp_path: Path, clock: FrozenClock
) -> None:
    log_path = tmp_path / "http.jsonl"
    configured = sandbox.refresh_token
    xero = connector(log=ExchangeLog(log_path, clock))
    xero.upsert_many([item("PD-1", "Acme")])
    sandbox.faults.add("expired_token")
    xero.list_changed("contact", None)
    text = log_path.read_text()
    assert "/connect/token" in text and "Contacts" in text
    secrets = [
        sandbox.client_secret,
        configured,
        sandbox.refresh_token,
        *sandbox.access_tokens,
        xero.auth.tokens.access_token,
    ]
    for secret in secrets:
        assert secret not in text
    for line in text.splitlines():
        entry = json.loads(line)
        assert "Bearer" not in json.dumps(entry.get("request_headers")) or "[REDACTED]" in line


def test_a_change_in_the_same_instant_as_the_last_one_seen_is_not_missed(
    connector: Factory, sandbox: XeroSandbox
) -> None:
    sandbox.add_contact(Name="Seen", ContactNumber="PD-1")
    xero = connector()
    first = xero.list_changed("contact", None)
    assert [r.fields["Name"] for r in first.records] == ["Seen"]
    sandbox.add_contact(Name="Same instant", ContactNumber="PD-2")  # the clock did not move
    names = [r.fields["Name"] for r in xero.list_changed("contact", first.cursor).records]
    assert "Same instant" in names
