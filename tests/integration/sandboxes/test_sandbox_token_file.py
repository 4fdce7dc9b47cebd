"""A map whose Xero system keeps ``token_file`` and says ``base_url: sandbox`` starts again
after a restart: the sandbox started here issues its own tokens, and a file written against an
earlier sandbox used to win over them and be refused (``invalid_grant``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.bootstrap import build_connectors
from connectors.clock import FrozenClock
from connectors.registry import ConnectorContext
from sync_core.map.model import IntegrationMap

AGENCY = Path(__file__).resolve().parents[3] / "examples" / "agency.yaml"


def _contacts(integration_map: IntegrationMap) -> int:
    sandboxes: dict[str, Any] = {}
    try:
        connectors = build_connectors(
            integration_map, ConnectorContext(clock=FrozenClock()), {}, sandboxes
        )
        try:
            return len(connectors["xero"].list_changed("contact", None).records)
        finally:
            for connector in connectors.values():
                connector.close()
    finally:
        for served in sandboxes.values():
            served.shutdown()


def test_a_token_file_does_not_break_the_next_start_on_a_sandbox(tmp_path: Path) -> None:
    data = yaml.safe_load(AGENCY.read_text())
    xero = data["systems"]["xero"]
    xero["options"] = {"seed": "agency", "token_file": str(tmp_path / "xero-tokens.json")}
    data["systems"] = {"xero": xero}
    data["entities"], data["phases"], data["flows"] = {}, [], []
    integration_map = IntegrationMap.model_validate(data)
    assert _contacts(integration_map) == 3
    assert _contacts(integration_map) == 3  # the restart
