"""`handoff doctor`: green on the demo map; a missing variable, a revoked token, a missing scope
and a Slack token without the manifest's scopes each fail with their fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.doctor import Finding, diagnose, manifest_scopes
from bot.settings import Settings
from connectors.clock import SystemClock
from connectors.sandboxes import RunningSandbox, start_sandbox
from sync_core.map.loader import load_map_text
from tests.conftest import REPO_ROOT
from tests.e2e.fake_slack import FakeSlack

AGENCY = str(REPO_ROOT / "examples" / "agency.yaml")

MAP = """
version: 1
name: Doctor test
systems:
  crm:
    connector: pipedrive
    {crm_base}
    auth: {{api_token: "env:CRM_TOKEN"}}
  books:
    connector: xero
    base_url: sandbox
    auth:
      client_id: "env:BOOKS_ID"
      client_secret: "env:BOOKS_SECRET"
      refresh_token: "env:BOOKS_REFRESH"
      tenant_id: "env:BOOKS_TENANT"
entities:
  client:
    canonical_id: {{minted_by: crm.organization, format: "C-{{id}}"}}
    source_of_truth: crm.organization
    copies:
      books.contact: {{id_field: ContactNumber}}
  invoice:
    canonical_id: {{minted_by: books.invoice}}
    source_of_truth: books.invoice
phases:
  - {{id: 1, name: One}}
flows:
  - name: clients
    phase: 1
    from: crm.organization
    to: books.contact
    fields: {{Name: "{{{{ name }}}}"}}
"""


def the_map(crm_base: str = "base_url: sandbox") -> Any:
    loaded = load_map_text(MAP.format(crm_base=crm_base))
    assert not [p for p in loaded.problems if p.is_error], loaded.problems
    return loaded.map


def by_check(findings: list[Finding]) -> dict[tuple[str, str], Finding]:
    return {(f.subject, f.check): f for f in findings}


class Starter:
    """Starts each sandbox as the map asks, then lets the test change what it accepts."""

    def __init__(self, change: dict[str, Any]) -> None:
        self.change = change
        self.started: list[RunningSandbox] = []

    def __call__(self, connector: str, seed: str) -> RunningSandbox:
        running = start_sandbox(connector, SystemClock(), seed=seed)
        if connector in self.change:
            self.change[connector](running.demo.sandbox)
        self.started.append(running)
        return running


@pytest.fixture
def no_slack() -> Settings:
    return Settings.from_env({})


def test_the_demo_map_is_green(database_url: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("HANDOFF_DATABASE_URL", database_url)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["doctor", "-c", AGENCY, "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    checks = {(f["subject"], f["check"]): f for f in found["findings"]}
    assert found["ok"]
    for system in ("pipedrive", "xero", "asana"):
        for check in ("credentials", "authentication", "permissions", "rate limit"):
            assert checks[(system, check)]["status"] in ("ok", "warning"), (system, check)
    assert (
        "created on first write: deal.Asana project"
        in checks[("pipedrive", "custom fields")]["message"]
    )
    assert "x-minlimit-remaining" in checks[("xero", "rate limit")]["message"]
    assert checks[("slack", "credentials")]["status"] == "warning"


def test_a_missing_variable_is_named_without_calling_the_vendor(no_slack: Settings) -> None:
    findings = diagnose(the_map(crm_base=""), {}, settings=no_slack)
    crm = [f for f in findings if f.subject == "crm"]
    assert [(f.check, f.status) for f in crm] == [("credentials", "failed")]
    assert crm[0].message == "CRM_TOKEN not set" and "export CRM_TOKEN=" in (crm[0].fix or "")
    assert by_check(findings)[("books", "authentication")].status == "ok"


def test_a_revoked_token_fails_authentication(no_slack: Settings) -> None:
    def revoke(sandbox: Any) -> None:
        sandbox.api_token = "a-token-issued-later"  # the one the map's variable holds is dead

    starter = Starter({"pipedrive": revoke})
    findings = by_check(diagnose(the_map(), {}, start=starter, settings=no_slack))
    failed = findings[("crm", "authentication")]
    assert failed.failed, failed
    assert "unauthorized" in failed.message.lower(), failed.message
    assert "CRM_TOKEN" in (failed.fix or "")
    assert ("crm", "permissions") not in findings  # nothing more to learn without a login
    assert findings[("books", "authentication")].status == "ok"


def test_a_missing_scope_is_named_with_what_needs_it(no_slack: Settings) -> None:
    def narrow(sandbox: Any) -> None:
        sandbox.scopes = "accounting.contacts offline_access"  # no accounting.transactions

    findings = by_check(diagnose(the_map(), {}, start=Starter({"xero": narrow}), settings=no_slack))
    permissions = findings[("books", "permissions")]
    assert permissions.failed
    assert "accounting.transactions.read or accounting.transactions (to read invoice)" in (
        permissions.message
    )
    assert findings[("books", "authentication")].status == "ok"


def test_a_read_only_grant_is_enough_for_a_record_type_only_read(no_slack: Settings) -> None:
    def read_only(sandbox: Any) -> None:
        sandbox.scopes = "accounting.contacts accounting.transactions.read offline_access"

    findings = by_check(
        diagnose(the_map(), {}, start=Starter({"xero": read_only}), settings=no_slack)
    )
    assert findings[("books", "permissions")].status == "ok"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(scopes=sorted(manifest_scopes())).start()
    yield fake
    fake.stop()


def slack_settings(fake: FakeSlack, token: str) -> Settings:
    env = {
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": fake.api_url,
    }
    return Settings.from_env(env)


def test_slack_token_and_scopes(slack: FakeSlack) -> None:
    from bot.doctor import diagnose_slack

    good = by_check(diagnose_slack(slack_settings(slack, slack.token)))
    assert good[("slack", "authentication")].status == "ok"
    assert good[("slack", "permissions")].status == "ok"

    slack.scopes = ["commands", "chat:write"]
    lacking = by_check(diagnose_slack(slack_settings(slack, slack.token)))
    assert lacking[("slack", "permissions")].failed
    assert "files:write" in lacking[("slack", "permissions")].message

    revoked = by_check(diagnose_slack(slack_settings(slack, "xoxb-revoked")))
    assert revoked[("slack", "authentication")].failed
    assert "invalid_auth" in revoked[("slack", "authentication")].message


def test_doctor_exits_non_zero_on_a_failure(tmp_path: Path, monkeypatch: Any) -> None:
    target = tmp_path / "map.yaml"
    target.write_text(MAP.format(crm_base=""))
    monkeypatch.delenv("CRM_TOKEN", raising=False)
    monkeypatch.setenv("HANDOFF_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    result = CliRunner().invoke(app, ["doctor", "-c", str(target)], terminal_width=200)
    assert result.exit_code == 1, result.output
    assert "✗ crm credentials: CRM_TOKEN not set — fix: export CRM_TOKEN=" in result.output


def test_an_in_process_system_cannot_list_custom_fields_but_passes(no_slack: Settings) -> None:
    text = """
version: 1
name: In-process
systems:
  crm:
    connector: sandbox
    options: {emulates: pipedrive, seed: agency}
    custom_fields: {deal: ["Invoice status"]}
entities:
  client:
    canonical_id: {minted_by: crm.deal}
    source_of_truth: crm.deal
"""
    findings = by_check(diagnose(load_map_text(text).map, {}, settings=no_slack))
    assert not any(f.failed for f in findings.values())
    assert findings[("crm", "custom fields")].status == "warning"
    assert "deal.Invoice status" in findings[("crm", "custom fields")].message
    assert findings[("crm", "rate limit")].status == "ok"


def test_a_rotated_refresh_token_is_kept_in_the_store(
    database_url: str, tmp_path: Path, monkeypatch: Any
) -> None:
    from connectors.xero.sandbox import XeroSandbox
    from sync_core.store.credentials import SqlTokenStores, cipher_for
    from sync_core.store.db import make_engine

    sandbox = XeroSandbox(SystemClock())
    served = sandbox.serve()
    first_refresh = sandbox.refresh_token
    text = f"""
version: 1
name: Real Xero
systems:
  books:
    connector: xero
    base_url: {served.url}
    options: {{token_url: "{served.url}/connect/token"}}
    auth:
      client_id: "env:BOOKS_ID"
      client_secret: "env:BOOKS_SECRET"
      refresh_token: "env:BOOKS_REFRESH"
      tenant_id: "env:BOOKS_TENANT"
"""
    env = {
        "BOOKS_ID": sandbox.client_id,
        "BOOKS_SECRET": sandbox.client_secret,
        "BOOKS_REFRESH": first_refresh,
        "BOOKS_TENANT": sandbox.tenant_id,
        "HANDOFF_DATABASE_URL": database_url,
        "HANDOFF_SECRET_KEY": "x" * 43 + "=",
    }
    try:
        findings = by_check(diagnose(load_map_text(text).map, env))
    finally:
        served.shutdown()
    assert findings[("books", "authentication")].status == "ok", findings
    assert sandbox.refresh_token != first_refresh  # the doctor's read rotated it
    db = make_engine(database_url)
    try:
        stores = SqlTokenStores(db, lambda: cipher_for(env["HANDOFF_SECRET_KEY"], db.url))
        kept = stores("books").load()
    finally:
        db.dispose()
    assert kept is not None and kept.refresh_token == sandbox.refresh_token
