"""An Asana OAuth app keeps working past its access token's hour: the kit's refresh, before
expiry and after a refused token, through Asana's token exchange on the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.asana import AsanaConnector, build
from connectors.asana.sandbox import AsanaSandbox
from connectors.base import ConfigError, ConnectorSettings
from connectors.clock import FrozenClock
from connectors.http import ExchangeLog
from connectors.registry import ConnectorContext
from connectors.serving import ServedApp, serve_wsgi

CLIENT_ID, CLIENT_SECRET, REFRESH = (
    "1200000000000042",
    "app-secret-do-not-log",
    "2/refresh-do-not-log",
)


@dataclass
class Env:
    clock: FrozenClock
    sandbox: AsanaSandbox
    served: ServedApp
    log: Path
    workspace: str
    team: str

    def connector(self, secret: str = CLIENT_SECRET) -> AsanaConnector:
        settings = ConnectorSettings(
            system="asana",
            connector="asana",
            credentials={"client_id": CLIENT_ID, "client_secret": secret, "refresh_token": REFRESH},
            options={"workspace": self.workspace, "team": self.team, "timeout": 0.3},
            base_url=self.served.url,
        )
        return build(settings, ConnectorContext(self.clock, ExchangeLog(self.log, self.clock)))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    clock = FrozenClock()
    sandbox = AsanaSandbox(clock, tokens=[])
    sandbox.add_oauth_app(CLIENT_ID, CLIENT_SECRET, REFRESH)
    workspace = sandbox.add_workspace("Acme")
    team = sandbox.add_team(workspace, "Delivery")
    sandbox.add_project(team, "Website")
    served = serve_wsgi(sandbox.wsgi_app)
    try:
        yield Env(clock, sandbox, served, tmp_path / "http.jsonl", workspace, team)
    finally:
        served.shutdown()


def test_an_oauth_app_refreshes_before_expiry_and_after_a_refused_token(env: Env) -> None:
    asana = env.connector()
    assert [r.display_name for r in asana.list_changed("project", None).records] == ["Website"]
    assert env.sandbox.issued == 1

    env.clock.advance(3600 - 30)  # inside the margin: refreshed before the hour is up
    asana.list_changed("project", None)
    assert env.sandbox.issued == 2

    env.sandbox.faults.add("expired_token")  # the API refuses a token it issued
    asana.list_changed("project", None)
    assert env.sandbox.issued == 3
    asana.close()

    logged = env.log.read_text()
    assert "/-/oauth_token" in logged
    for secret in (CLIENT_SECRET, REFRESH, "2/oauth-access-1", "2/oauth-access-3"):
        assert secret not in logged


def test_a_refused_app_secret_asks_for_re_authorisation(env: Env) -> None:
    asana = env.connector(secret="wrong")
    with pytest.raises(ConfigError, match="re-authorise the app"):
        asana.list_changed("project", None)
    asana.close()


def test_an_oauth_app_keeps_its_tokens_in_the_token_file(env: Env, tmp_path: Path) -> None:
    """Without the service's store, the option ``token_file`` keeps the tokens: a restarted
    process uses the hour's access token instead of asking for another."""
    token_file = tmp_path / "asana-tokens.json"
    settings = ConnectorSettings(
        system="asana",
        connector="asana",
        credentials={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH,
        },
        options={"workspace": env.workspace, "team": env.team, "token_file": str(token_file)},
        base_url=env.served.url,
    )
    for _ in range(2):
        asana = build(settings, ConnectorContext(env.clock))
        asana.list_changed("project", None)
        asana.close()
    assert env.sandbox.issued == 1
    assert "2/oauth-access-1" in token_file.read_text()
