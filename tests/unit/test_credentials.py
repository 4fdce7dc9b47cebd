"""Secrets come from the environment; a missing one stops start-up naming every variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.bootstrap import build_connectors
from connectors.base import ConfigError
from connectors.clock import FrozenClock
from connectors.registry import ConnectorContext
from sync_core.map.model import IntegrationMap

AGENCY = Path(__file__).resolve().parents[2] / "examples" / "agency.yaml"


def real_map() -> IntegrationMap:
    data = yaml.safe_load(AGENCY.read_text())
    for system in data["systems"].values():
        system.pop("base_url", None)  # the vendors' real hosts: real credentials needed
    return IntegrationMap.model_validate(data)


def test_every_missing_credential_is_named_at_once() -> None:
    env = {"PIPEDRIVE_API_TOKEN": "token-value-1234"}
    with pytest.raises(ConfigError) as caught:
        build_connectors(real_map(), ConnectorContext(clock=FrozenClock()), env, {})
    message = str(caught.value)
    assert "set XERO_CLIENT_ID" in message and "set XERO_TENANT_ID" in message
    assert "set ASANA_TOKEN" in message
    assert "PIPEDRIVE_API_TOKEN" not in message
    assert "token-value-1234" not in message


def test_real_systems_build_with_their_credentials_and_never_call_out() -> None:
    env = {
        "PIPEDRIVE_API_TOKEN": "p",
        "XERO_CLIENT_ID": "a",
        "XERO_CLIENT_SECRET": "b",
        "XERO_REFRESH_TOKEN": "c",
        "XERO_TENANT_ID": "d",
        "ASANA_TOKEN": "e",
        "MAILCHIMP_API_KEY": "f-us6",
    }
    connectors = build_connectors(real_map(), ConnectorContext(clock=FrozenClock()), env, {})
    try:
        assert set(connectors) == {"pipedrive", "xero", "asana", "mailchimp"}
    finally:
        for connector in connectors.values():
            connector.close()


def test_rotating_tokens_go_to_the_shared_store_except_for_a_sandbox_started_here() -> None:
    from connectors.tokens import MemoryTokenStore, TokenStore

    asked: list[str] = []

    def stores(system: str) -> TokenStore:
        asked.append(system)
        return MemoryTokenStore()

    env = {
        "PIPEDRIVE_API_TOKEN": "p",
        "XERO_CLIENT_ID": "a",
        "XERO_CLIENT_SECRET": "b",
        "XERO_REFRESH_TOKEN": "c",
        "XERO_TENANT_ID": "d",
        "ASANA_TOKEN": "e",
        "MAILCHIMP_API_KEY": "f-us6",
    }
    context = ConnectorContext(clock=FrozenClock(), token_stores=stores)
    for connector in build_connectors(real_map(), context, env, {}).values():
        connector.close()
    assert asked == ["xero"]
    asked.clear()
    data = yaml.safe_load(AGENCY.read_text())  # every system on a sandbox this process starts
    sandboxes: dict[str, Any] = {}
    try:
        built = build_connectors(IntegrationMap.model_validate(data), context, {}, sandboxes)
        for connector in built.values():
            connector.close()
    finally:
        for served in sandboxes.values():
            served.shutdown()
    assert sandboxes and asked == []
