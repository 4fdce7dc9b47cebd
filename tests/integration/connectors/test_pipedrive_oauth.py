"""A Pipedrive OAuth app keeps working past its access token's hour: the kit's refresh at
Pipedrive's token endpoint (HTTP Basic with the app's id and secret), rotated refresh tokens
kept before they are used, the company's ``api_domain`` followed, and a revoked app told to
re-authorise, all against the sandbox that enforces expiring bearer tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select

from connectors.base import ConfigError, ConnectorSettings
from connectors.clock import FrozenClock
from connectors.http import ExchangeLog
from connectors.pipedrive import PipedriveConnector, build
from connectors.pipedrive.sandbox import OAUTH_TOKEN_SECONDS, PipedriveSandbox
from connectors.registry import ConnectorContext
from connectors.serving import ServedApp, serve_wsgi
from connectors.tokens import JsonFileTokenStore
from sync_core.store.credentials import SqlTokenStores, TokenCipher
from sync_core.store.models import CredentialRow

CLIENT_ID, CLIENT_SECRET, REFRESH = (
    "b4d083d9216986345b32",
    "pipedrive-app-secret-do-not-log",
    "pipedrive-refresh-do-not-log",
)


@dataclass
class Env:
    clock: FrozenClock
    sandbox: PipedriveSandbox
    served: ServedApp
    log: Path
    token_file: Path

    def connector(
        self,
        *,
        secret: str = CLIENT_SECRET,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        options: dict[str, Any] | None = None,
    ) -> PipedriveConnector:
        settings = ConnectorSettings(
            system="crm",
            connector="pipedrive",
            credentials={"client_id": CLIENT_ID, "client_secret": secret, "refresh_token": REFRESH},
            options={"token_file": str(self.token_file), "timeout": 0.5, **(options or {})},
            base_url=self.served.url if base_url is None and transport is None else base_url,
        )
        context = ConnectorContext(self.clock, ExchangeLog(self.log, self.clock))
        return build(settings, context, transport=transport)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    clock = FrozenClock()
    sandbox = PipedriveSandbox(clock=clock, rate_limit=1000)
    sandbox.add_oauth_app(CLIENT_ID, CLIENT_SECRET, REFRESH)
    sandbox.add_organization("Acme Ltd")
    served = serve_wsgi(sandbox.wsgi_app)
    try:
        yield Env(clock, sandbox, served, tmp_path / "http.jsonl", tmp_path / "tokens.json")
    finally:
        served.shutdown()


def names(crm: PipedriveConnector) -> list[str]:
    return [r.display_name for r in crm.list_changed("organization", None).records]


def test_refreshes_before_expiry_and_after_a_refused_token(env: Env) -> None:
    crm = env.connector()
    assert names(crm) == ["Acme Ltd"]
    assert env.sandbox.issued == 1

    env.clock.advance(OAUTH_TOKEN_SECONDS - 30)  # inside the margin: refreshed before expiry
    assert names(crm) == ["Acme Ltd"]
    assert env.sandbox.issued == 2
    assert env.sandbox.count(401) == 0

    env.sandbox.faults.add("expired_token")  # the API refuses a token it issued: once more
    assert names(crm) == ["Acme Ltd"]
    assert env.sandbox.issued == 3
    crm.close()


def test_the_sandbox_refuses_an_expired_bearer(env: Env) -> None:
    crm = env.connector()
    names(crm)
    token = crm.session.oauth.tokens.access_token if crm.session.oauth else ""
    env.clock.advance(OAUTH_TOKEN_SECONDS + 1)
    refused = httpx.get(
        env.served.url + "/api/v2/organizations", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 401
    crm.close()


def test_a_rotated_refresh_token_is_kept_before_the_access_token_is_used(env: Env) -> None:
    seen: list[tuple[str, str | None]] = []

    class Watching(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path != "/oauth/token":
                stored = JsonFileTokenStore(env.token_file).load()
                bearer = request.headers["Authorization"].removeprefix("Bearer ")
                seen.append((bearer, stored.access_token if stored else None))
            return super().handle_request(request)

    crm = env.connector(base_url=env.served.url, transport=Watching())
    names(crm)
    env.clock.advance(OAUTH_TOKEN_SECONDS)
    names(crm)
    crm.close()
    assert len({bearer for bearer, _ in seen}) == 2  # one token per hour
    assert all(bearer == stored for bearer, stored in seen), "a token was used before it was kept"

    # The configured refresh token is spent; a restarted process starts from the kept ones.
    assert REFRESH not in env.sandbox.refresh_tokens
    kept = json.loads(env.token_file.read_text())
    assert kept["refresh_token"] in env.sandbox.refresh_tokens
    env.clock.advance(OAUTH_TOKEN_SECONDS)
    again = env.connector()
    assert names(again) == ["Acme Ltd"]
    assert env.sandbox.issued == 3
    again.close()


def test_a_revoked_refresh_token_asks_for_re_authorisation(env: Env) -> None:
    crm = env.connector()
    names(crm)
    env.sandbox.revoke_refresh_tokens()
    env.sandbox.expire_tokens()
    with pytest.raises(ConfigError, match="re-authorise the app") as refused:
        names(crm)
    assert refused.value.vendor_message == "invalid_grant"
    crm.close()


def test_a_wrong_app_secret_asks_for_re_authorisation(env: Env) -> None:
    crm = env.connector(secret="not-the-secret")
    with pytest.raises(ConfigError, match="re-authorise the app"):
        names(crm)
    crm.close()


def test_calls_go_to_the_api_domain_the_token_endpoint_names(env: Env) -> None:
    """Without a base_url, the token answer's ``api_domain`` is the company's API host."""
    env.sandbox.api_domain = "https://acme-agency.pipedrive.com"
    hosts: list[str] = []
    inner = httpx.WSGITransport(app=env.sandbox.wsgi_app)

    class Hosts(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            hosts.append(request.url.host)
            return inner.handle_request(request)

    crm = env.connector(transport=Hosts())
    assert names(crm) == ["Acme Ltd"]
    assert hosts[0] == "oauth.pipedrive.com"
    assert set(hosts[1:]) == {"acme-agency.pipedrive.com"}
    crm.close()


def app_settings(base_url: str | None) -> ConnectorSettings:
    """The CRM as an OAuth app installed with the sandbox's refresh token."""
    return ConnectorSettings(
        system="crm",
        connector="pipedrive",
        credentials={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH,
        },
        base_url=base_url,
    )


class Hosts(httpx.BaseTransport):
    """Serves the sandbox whatever the host, and keeps the host of every call."""

    def __init__(self, sandbox: PipedriveSandbox) -> None:
        self.inner = httpx.WSGITransport(app=sandbox.wsgi_app)
        self.hosts: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.url.host)
        return self.inner.handle_request(request)


def test_a_process_using_tokens_another_refreshed_calls_their_api_domain(
    env: Env, db: Engine
) -> None:
    """The sync service refreshes; the Slack bot beside it, on the same store, picks the
    tokens up without refreshing and calls the company's host too, as does a process started
    later; a map's base_url still pins the host."""
    env.sandbox.api_domain = "https://acme-agency.pipedrive.com"
    key = Fernet.generate_key()
    context = ConnectorContext(
        env.clock, token_stores=SqlTokenStores(db, lambda: TokenCipher(key), now=env.clock.now)
    )

    def process(base_url: str | None = None) -> tuple[PipedriveConnector, Hosts]:
        settings = app_settings(base_url)
        transport = Hosts(env.sandbox)
        return build(settings, context, transport=transport), transport

    (service, service_hosts), (bot, bot_hosts) = process(), process()
    assert names(service) == ["Acme Ltd"]
    assert service_hosts.hosts[0] == "oauth.pipedrive.com"
    assert set(service_hosts.hosts[1:]) == {"acme-agency.pipedrive.com"}

    assert names(bot) == ["Acme Ltd"]
    assert env.sandbox.issued == 1  # the service's tokens, from the store
    assert set(bot_hosts.hosts) == {"acme-agency.pipedrive.com"}

    (later, later_hosts), (pinned, pinned_hosts) = process(), process("https://pinned.example")
    names(later)
    names(pinned)
    assert env.sandbox.issued == 1
    assert set(later_hosts.hosts) == {"acme-agency.pipedrive.com"}
    assert set(pinned_hosts.hosts) == {"pinned.example"}
    for crm in (service, bot, later, pinned):
        crm.close()
    with db.connect() as connection:  # beside the encrypted tokens, in the clear: no secret
        row = connection.execute(select(CredentialRow)).one()
    assert row.api_domain == "https://acme-agency.pipedrive.com"
    assert "acme-agency" not in row.access_token


def test_no_secret_reaches_the_http_log(env: Env) -> None:
    crm = env.connector()
    names(crm)
    env.clock.advance(OAUTH_TOKEN_SECONDS)
    names(crm)
    kept = json.loads(env.token_file.read_text())
    crm.close()
    logged = env.log.read_text()
    assert "/oauth/token" in logged
    for secret in (CLIENT_SECRET, REFRESH, kept["access_token"], kept["refresh_token"]):
        assert secret not in logged


def test_an_oauth_app_needs_its_id_and_secret(env: Env) -> None:
    settings = ConnectorSettings(
        system="crm", connector="pipedrive", credentials={"refresh_token": REFRESH}
    )
    with pytest.raises(ConfigError, match="client_id, client_secret"):
        build(settings, ConnectorContext(env.clock))


DOCTOR_MAP = """
version: 1
name: Pipedrive OAuth app
systems:
  crm:
    connector: pipedrive
    base_url: {url}
    auth:
      client_id: "env:CRM_CLIENT_ID"
      client_secret: "env:CRM_CLIENT_SECRET"
      refresh_token: "env:CRM_REFRESH_TOKEN"
entities:
  client:
    canonical_id: {{minted_by: crm.organization, format: "C-{{id}}"}}
    source_of_truth: crm.organization
phases:
  - {{id: 1, name: One}}
flows: []
"""


def test_check_and_doctor_accept_an_oauth_app(tmp_path: Path, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.doctor import diagnose
    from bot.settings import Settings
    from connectors.clock import SystemClock
    from sync_core.map.loader import load_map_text

    sandbox = PipedriveSandbox(clock=SystemClock())
    sandbox.add_oauth_app(CLIENT_ID, CLIENT_SECRET, REFRESH)
    sandbox.add_organization("Acme Ltd")
    served = serve_wsgi(sandbox.wsgi_app)
    text = DOCTOR_MAP.format(url=served.url)
    env = {"CRM_CLIENT_ID": CLIENT_ID, "CRM_CLIENT_SECRET": CLIENT_SECRET}
    monkeypatch.chdir(tmp_path)  # no store here: tokens stay in memory for the command
    try:
        path = tmp_path / "integration.yaml"
        path.write_text(text)
        checked = CliRunner().invoke(app, ["check", str(path)])
        assert checked.exit_code == 0, checked.output

        loaded = load_map_text(text)
        findings = {
            (f.subject, f.check): f
            for f in diagnose(
                loaded.map, env | {"CRM_REFRESH_TOKEN": REFRESH}, settings=Settings.from_env({})
            )
        }
        assert findings[("crm", "authentication")].status == "ok", findings
        assert sandbox.issued == 1

        sandbox.revoke_refresh_tokens()
        refused = {
            (f.subject, f.check): f
            for f in diagnose(
                loaded.map, env | {"CRM_REFRESH_TOKEN": "spent"}, settings=Settings.from_env({})
            )
        }
    finally:
        served.shutdown()
    failed = refused[("crm", "authentication")]
    assert failed.failed and "re-authorise the app" in failed.message, failed
    assert "CRM_REFRESH_TOKEN" in (failed.fix or "")


def test_the_services_token_store_is_shared_by_name(env: Env) -> None:
    """With the service's stores (one per system), the tokens are kept there, not in the file:
    a second process on the same store uses them instead of refreshing again."""
    from connectors.tokens import MemoryTokenStore

    stores: dict[str, MemoryTokenStore] = {}
    context = ConnectorContext(
        env.clock, token_stores=lambda system: stores.setdefault(system, MemoryTokenStore())
    )
    settings = app_settings(env.served.url)
    first, second = build(settings, context), build(settings, context)
    names(first)
    names(second)
    assert env.sandbox.issued == 1
    kept = stores["crm"].tokens
    assert kept is not None and kept.refresh_token == env.sandbox.latest_refresh[CLIENT_ID]
    first.close()
    second.close()
