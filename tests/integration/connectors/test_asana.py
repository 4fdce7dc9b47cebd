"""The Asana client against its sandbox over HTTP; every exchange checked against Asana's spec."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from connectors.asana import AsanaConnector, build
from connectors.asana.sandbox import FAULT_HEADER, AsanaSandbox
from connectors.base import (
    AuthExpired,
    ConfigError,
    ConnectorSettings,
    IdField,
    Permanent,
    Record,
    SchemaChanged,
    Transient,
    UpsertItem,
)
from connectors.clock import FrozenClock
from connectors.exchange_audit import recording_exchanges
from connectors.http import ExchangeLog
from connectors.registry import ConnectorContext
from connectors.serving import ServedApp, serve_wsgi
from tests.support import contract
from tests.support.contract import ContractValidator, RecordingTransport

TOKEN = "1/120400000:asana-pat-do-not-log"
ID_FIELD = IdField.parse("custom_field:Pipedrive deal")


@dataclass
class Env:
    clock: FrozenClock
    sandbox: AsanaSandbox
    served: ServedApp
    transport: RecordingTransport
    log_path: Path
    workspace: str
    team: str
    board: str  # a project whose tasks the task tests use

    def connector(self, token: str = TOKEN, **options: Any) -> AsanaConnector:
        settings = ConnectorSettings(
            system="asana",
            connector="asana",
            credentials={"token": token},
            options={"workspace": self.workspace, "team": self.team, "timeout": 0.3, **options},
            base_url=self.served.url,
        )
        context = ConnectorContext(self.clock, ExchangeLog(self.log_path, self.clock))
        return build(settings, context, transport=self.transport)


@functools.lru_cache(maxsize=1)
def _asana_openapi(spec_file: str) -> Any:
    """Asana's document as the shared loader reads it, but with its response codes as strings:
    YAML reads the document's unquoted ``200:`` keys as integers, which openapi-core cannot
    look up, so every response check would fail before judging the response."""
    from jsonschema_path import SchemaPath
    from openapi_core import Config, OpenAPI

    with (contract.specs_dir() / spec_file).open() as fh:
        document = yaml.load(fh, Loader=yaml.CSafeLoader)
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"] = {str(k): v for k, v in operation["responses"].items()}
    return OpenAPI(SchemaPath.from_dict(document), config=Config(spec_validator_cls=None))


def check_contract(transport: RecordingTransport) -> int:
    validator = ContractValidator.for_spec("asana_oas.yaml")
    for exchange in transport.exchanges:
        response = exchange.response
        if FAULT_HEADER in response.headers:
            validator.check(exchange.request)  # a fault broke the answer on purpose
        elif response.status_code == 429:
            # The spec declares no 429 on these operations; hold it to Asana's documented form.
            validator.check(exchange.request)
            assert float(response.headers["Retry-After"]) >= 1
            assert json.loads(response.content)["errors"][0]["message"]
        else:
            validator.check(exchange.request, response)
    return len(transport.exchanges)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setattr(contract, "_load_openapi", _asana_openapi)
    clock = FrozenClock()
    sandbox = AsanaSandbox(clock, tokens=[TOKEN])
    workspace = sandbox.add_workspace("Acme")
    team = sandbox.add_team(workspace, "Delivery")
    board = sandbox.add_project(team, "Delivery board")
    served = serve_wsgi(sandbox.wsgi_app)
    transport = RecordingTransport()
    env = Env(clock, sandbox, served, transport, tmp_path / "http.jsonl", workspace, team, board)
    try:
        yield env
    finally:
        served.shutdown()
    check_contract(transport)


@pytest.fixture
def asana(env: Env) -> Iterator[AsanaConnector]:
    connector = env.connector(project=env.board)
    yield connector
    connector.close()


def drain(
    connector: AsanaConnector, record_type: str, cursor: str | None, limit: int = 100
) -> tuple[list[Record], str | None, int]:
    records: list[Record] = []
    pages = 0
    while True:
        page = connector.list_changed(record_type, cursor, limit=limit)
        records.extend(page.records)
        cursor, pages = page.cursor, pages + 1
        if not page.has_more:
            return records, cursor, pages


# --- change detection -------------------------------------------------------------------------


def test_projects_page_and_then_only_changes_come_back(env: Env, asana: AsanaConnector) -> None:
    gids = [env.sandbox.add_project(env.team, f"Project {i}") for i in range(5)]
    records, cursor, pages = drain(asana, "project", None, limit=2)
    assert pages == 3 and {r.external_id for r in records} == {env.board, *gids}

    # Only what changed at or after the newest instant seen comes back (here all were made in
    # that one instant): a change in the same instant is never missed.
    newest = max(r.updated_at for r in records if r.updated_at is not None)
    assert all(r.updated_at == newest for r in drain(asana, "project", cursor)[0])
    env.clock.advance(60)
    env.sandbox.touch("project", gids[3], name="Renamed")
    changed, cursor, _ = drain(asana, "project", cursor, limit=2)
    renamed = [r for r in changed if r.updated_at != newest]
    assert [(r.external_id, r.display_name) for r in renamed] == [(gids[3], "Renamed")]
    assert renamed[0].updated_at is not None and renamed[0].updated_at.tzinfo is not None
    # From the renamed one on, the older projects no longer come back.
    assert [r.external_id for r in drain(asana, "project", cursor)[0]] == [gids[3]]


def test_tasks_use_modified_since(env: Env, asana: AsanaConnector) -> None:
    first = env.sandbox.add_task(env.board, "Kick-off")
    env.sandbox.add_task(env.board, "Design")
    records, cursor, _ = drain(asana, "task", None, limit=1)
    assert {r.display_name for r in records} == {"Kick-off", "Design"}
    env.clock.advance(5)
    env.sandbox.touch("task", first, completed=True)
    changed, _, _ = drain(asana, "task", cursor)
    assert (first, True) in [(r.external_id, r.fields["completed"]) for r in changed]
    last = env.transport.exchanges[-1].request
    assert "modified_since" in last.url.params


# --- canonical ID, create, update, upsert ------------------------------------------------------


def test_find_by_canonical_id_reads_the_custom_field(env: Env, asana: AsanaConnector) -> None:
    assert asana.find_by_canonical_id("project", ID_FIELD, "D-1") is None  # no such field yet
    env.sandbox.add_project(env.team, "Website", custom_fields={"Pipedrive deal": "D-1"})
    wanted = env.sandbox.add_project(env.team, "Shop", custom_fields={"Pipedrive deal": "D-2"})
    found = asana.find_by_canonical_id("project", ID_FIELD, "D-2")
    assert found is not None and found.external_id == wanted
    assert found.fields["Pipedrive deal"] == "D-2" and found.display_name == "Shop"
    assert asana.find_by_canonical_id("project", ID_FIELD, "D-404") is None


def test_create_makes_the_field_attaches_it_and_stamps_the_id(
    env: Env, asana: AsanaConnector
) -> None:
    record = asana.create(
        "project",
        {"name": "Acme – Website", "notes": "from the deal"},
        id_field=ID_FIELD,
        canonical_id="D-7",
    )
    assert record.fields["Pipedrive deal"] == "D-7" and record.fields["notes"] == "from the deal"
    assert env.sandbox.find("custom_field", "Pipedrive deal")
    assert env.sandbox.value("project", record.external_id, "Pipedrive deal") == "D-7"
    posted = [e.request for e in env.transport.exchanges if e.request.method == "POST"]
    body = json.loads(posted[0].content)
    assert (
        posted[0].url.path.endswith("/custom_fields") and body["data"]["resource_subtype"] == "text"
    )


def test_update_sets_native_and_custom_fields(env: Env, asana: AsanaConnector) -> None:
    env.sandbox.add_custom_field(env.workspace, "Budget owner")
    gid = env.sandbox.add_project(env.team, "Website")
    record = asana.update("project", gid, {"name": "Website v2", "Budget owner": "Ana"})
    assert record.display_name == "Website v2" and record.fields["Budget owner"] == "Ana"


def test_a_custom_field_the_workspace_lacks_is_created_and_put_on_the_project(
    env: Env, asana: AsanaConnector
) -> None:
    gid = env.sandbox.add_project(env.team, "Website")
    record = asana.update("project", gid, {"Xero contact": "C-9"})
    assert record.fields["Xero contact"] == "C-9"
    assert len(env.sandbox.find("custom_field", "Xero contact")) == 1
    assert env.sandbox.value("project", gid, "Xero contact") == "C-9"
    task = asana.create(
        "task", {"name": "Kick-off", "Xero contact": "C-9"}, id_field=ID_FIELD, canonical_id="D-5"
    )
    assert task.fields["Xero contact"] == "C-9"
    assert len(env.sandbox.find("custom_field", "Xero contact")) == 1


def test_a_token_that_may_not_create_custom_fields_is_told_which_scope_it_lacks(
    env: Env, asana: AsanaConnector
) -> None:
    env.sandbox.deny(TOKEN, "custom_fields:write")
    gid = env.sandbox.add_project(env.team, "Website")
    with pytest.raises(ConfigError) as caught:
        asana.update("project", gid, {"Xero contact": "C-9"})
    assert "'Xero contact'" in str(caught.value) and "custom_fields:write" in str(caught.value)
    assert caught.value.http_status == 403
    env.sandbox.add_custom_field(env.workspace, "Xero contact")  # someone made it by hand
    assert asana.update("project", gid, {"Xero contact": "C-9"}).fields["Xero contact"] == "C-9"


def test_a_token_that_may_not_edit_the_project_is_told_which_scope_it_lacks(
    env: Env, asana: AsanaConnector
) -> None:
    env.sandbox.add_custom_field(env.workspace, "Xero contact")
    env.sandbox.deny(TOKEN, "projects:write")
    gid = env.sandbox.add_project(env.team, "Website")
    with pytest.raises(ConfigError) as caught:
        asana.update("project", gid, {"Xero contact": "C-9"})
    message = str(caught.value)
    assert "'Xero contact'" in message and gid in message and "projects:write" in message


def test_upsert_twice_leaves_one_record(env: Env, asana: AsanaConnector) -> None:
    item = UpsertItem("project", ID_FIELD, "D-42", {"name": "Acme – Shop"}, "evt-1")
    first = asana.upsert_many([item])[0]
    second = asana.upsert_many([item.__class__(**{**item.__dict__, "fields": {"name": "Shop"}})])[0]
    assert first.created and not second.created and first.error is None
    assert first.record and second.record and first.record.external_id == second.record.external_id
    assert env.sandbox.find("project", "Acme – Shop") == []
    assert len(env.sandbox.find("project", "Shop")) == 1


def test_tasks_create_find_update(env: Env, asana: AsanaConnector) -> None:
    task = asana.create("task", {"name": "Onboard Acme"}, id_field=ID_FIELD, canonical_id="D-3")
    assert task.fields["Pipedrive deal"] == "D-3"
    found = asana.find_by_canonical_id("task", ID_FIELD, "D-3")
    assert found is not None and found.external_id == task.external_id
    done = asana.update("task", task.external_id, {"completed": True})
    assert done.fields["completed"] is True


def test_deep_links(env: Env, asana: AsanaConnector) -> None:
    gid = env.sandbox.add_project(env.team, "Website")
    record = asana.get("project", gid)
    assert record.url == f"https://app.asana.com/1/{env.workspace}/project/{gid}"
    assert asana.deep_link("project", gid) == record.url
    assert asana.deep_link("task", "9").endswith(f"/1/{env.workspace}/task/9")


# --- errors and faults ------------------------------------------------------------------------


def test_bad_token_is_auth_expired_with_asanas_message(env: Env) -> None:
    connector = env.connector(token="wrong-token")
    with pytest.raises(AuthExpired) as caught:
        connector.get("project", env.board)
    assert caught.value.vendor_message == "Not Authorized"
    connector.close()


def test_unknown_record_keeps_vendor_message(env: Env, asana: AsanaConnector) -> None:
    with pytest.raises(Permanent) as caught:
        asana.get("project", "1")
    assert caught.value.http_status == 404
    assert caught.value.vendor_message == "project: Not a recognized ID: 1"


def test_configuration_errors(env: Env) -> None:
    with pytest.raises(ConfigError, match="token"):
        env.connector(token="")
    with pytest.raises(ConfigError, match="plan"):
        env.connector(plan="gold")
    with pytest.raises(ConfigError, match="project"):
        env.connector().list_changed("task", None)


@pytest.mark.parametrize(
    ("kind", "options", "error"),
    [
        ("server_error", {"status": 500}, Transient),
        ("server_error", {"times": 1}, Transient),
        ("timeout", {"times": 3, "delay": 0.6}, Transient),
        ("reset", {"times": 3}, Transient),
        ("malformed_json", {}, SchemaChanged),
        ("renamed_field", {}, SchemaChanged),
        ("expired_token", {}, AuthExpired),
    ],
)
def test_faults_are_classified(
    env: Env, asana: AsanaConnector, kind: str, options: dict[str, Any], error: type
) -> None:
    env.sandbox.faults.add(kind, path="/projects", **options)
    with pytest.raises(error) as caught:
        asana.list_changed("project", None)
    if kind == "renamed_field":
        assert "modified_at" in str(caught.value)
    assert kind in env.sandbox.faults.fired
    assert asana.list_changed("project", None).records  # the next call is fine again


def test_rate_limit_fault_waits_then_succeeds(env: Env, asana: AsanaConnector) -> None:
    env.sandbox.faults.add("rate_limit", retry_after=7)
    before = env.clock.now()
    with recording_exchanges() as seen:
        assert asana.list_changed("project", None).records
    assert 7.0 in seen.waits
    assert (env.clock.now() - before).total_seconds() >= 7


# --- rate limits ------------------------------------------------------------------------------


def test_client_paces_itself_below_the_free_quota(env: Env, asana: AsanaConnector) -> None:
    with recording_exchanges() as seen:
        for _ in range(155):
            asana.get("project", env.board)
    assert env.sandbox.rate_limited == 0
    waits = seen.waits
    assert waits and sum(waits) >= 59  # the 151st call waited for the minute to roll over


def test_sandbox_enforces_the_quota_with_retry_after(env: Env) -> None:
    with httpx.Client(base_url=env.served.url, transport=env.transport) as client:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        statuses = [
            client.get(f"/api/1.0/projects/{env.board}", headers=headers).status_code
            for _ in range(151)
        ]
    assert statuses[:150] == [200] * 150 and statuses[150] == 429
    assert env.transport.exchanges[-1].response.headers["Retry-After"] == "60"


# --- secrets ----------------------------------------------------------------------------------


def test_no_credential_in_the_exchange_log(env: Env, asana: AsanaConnector) -> None:
    asana.create("project", {"name": "Website"}, id_field=ID_FIELD, canonical_id="D-1")
    env.sandbox.faults.add("expired_token")
    with pytest.raises(AuthExpired):
        asana.get("project", env.board)
    text = env.log_path.read_text()
    assert text.count("\n") >= 5 and TOKEN not in text and TOKEN.split(":")[1] not in text


def test_a_change_in_the_same_instant_as_the_last_one_seen_is_not_missed(
    env: Env, asana: AsanaConnector
) -> None:
    _, cursor, _ = drain(asana, "project", None)
    late = env.sandbox.add_project(env.team, "Made in the same instant")  # clock did not move
    assert late in {r.external_id for r in drain(asana, "project", cursor)[0]}


def test_a_batch_lists_the_projects_once_and_never_duplicates(
    env: Env, asana: AsanaConnector
) -> None:
    env.sandbox.add_project(env.team, "Old", custom_fields={"Pipedrive deal": "D-1"})
    items = [
        UpsertItem("project", ID_FIELD, f"D-{n}", {"name": f"Client {n}"}, f"evt-{n}")
        for n in (1, 2, 3, 2)  # D-2 twice in one batch
    ]
    before = len(env.transport.exchanges)
    results = asana.upsert_many(items)
    listings = [
        x
        for x in env.transport.exchanges[before:]
        if x.request.method == "GET" and x.request.url.path.endswith(f"/teams/{env.team}/projects")
    ]
    assert len(listings) == 1
    assert [r.created for r in results] == [False, True, True, False]
    assert results[1].record and results[3].record
    assert results[1].record.external_id == results[3].record.external_id
    assert len(env.sandbox.find("project", "Client 2")) == 1
