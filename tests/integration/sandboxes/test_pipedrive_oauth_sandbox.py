"""``base_url: sandbox`` with a Pipedrive OAuth app's credentials: the built-in sandbox hands
out its installed app, serves the token endpoint, and refuses a bearer past its hour, so the
refresh is exercised as against Pipedrive; a map with an API token keeps using that."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.bootstrap import build_connectors
from connectors.base import Connector
from connectors.clock import FrozenClock
from connectors.pipedrive.sandbox import OAUTH_TOKEN_SECONDS, PipedriveSandbox
from connectors.registry import ConnectorContext
from connectors.sandboxes import RunningSandbox
from sync_core.map.model import IntegrationMap

AGENCY = Path(__file__).resolve().parents[3] / "examples" / "agency.yaml"
OAUTH = {
    "client_id": "env:PIPEDRIVE_CLIENT_ID",
    "client_secret": "env:PIPEDRIVE_CLIENT_SECRET",
    "refresh_token": "env:PIPEDRIVE_REFRESH_TOKEN",
}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def crm(clock: FrozenClock, auth: dict[str, str]) -> Iterator[tuple[Connector, PipedriveSandbox]]:
    data: dict[str, Any] = yaml.safe_load(AGENCY.read_text())
    data["systems"] = {"pipedrive": {**data["systems"]["pipedrive"], "auth": auth}}
    data["entities"], data["phases"], data["flows"] = {}, [], []
    sandboxes: dict[str, RunningSandbox] = {}
    built = build_connectors(
        IntegrationMap.model_validate(data), ConnectorContext(clock=clock), {}, sandboxes
    )
    try:
        yield built["pipedrive"], sandboxes["pipedrive"].demo.sandbox
    finally:
        built["pipedrive"].close()
        sandboxes["pipedrive"].shutdown()


def names(connector: Connector) -> list[str]:
    return [r.display_name for r in connector.list_changed("organization", None).records]


def test_an_oauth_map_refreshes_against_the_sandbox(clock: FrozenClock) -> None:
    for connector, sandbox in crm(clock, OAUTH):
        assert names(connector)
        assert sandbox.issued == 1
        assert sandbox.count(401) == 0

        clock.advance(OAUTH_TOKEN_SECONDS + 5)  # a bearer past its hour: refreshed first
        assert names(connector)
        assert sandbox.issued == 2 and sandbox.count(401) == 0

        sandbox.expire_tokens()  # refused once: refreshed and asked again
        assert names(connector)
        assert sandbox.issued == 3 and sandbox.count(401) == 1


def test_an_api_token_map_does_not_use_the_app(clock: FrozenClock) -> None:
    for connector, sandbox in crm(clock, {"api_token": "env:PIPEDRIVE_API_TOKEN"}):
        assert names(connector)
        assert sandbox.issued == 0


def test_the_apps_tokens_survive_a_sandbox_restart(clock: FrozenClock) -> None:
    for connector, sandbox in crm(clock, OAUTH):
        names(connector)
        kept = sandbox.to_state()
        restarted = PipedriveSandbox(clock=clock)
        restarted.from_state(kept)
        assert restarted.refresh_tokens == sandbox.refresh_tokens
        assert restarted.access_tokens == sandbox.access_tokens
        assert restarted.app_credentials("sandbox-pipedrive-app")["refresh_token"] in (
            sandbox.refresh_tokens
        )
