"""A map's ``company_domain`` names the Pipedrive company in deep links, against the built-in
sandboxes too (they used to point at the demo's company whatever the map said)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.bootstrap import build_connectors
from connectors.clock import FrozenClock
from connectors.registry import ConnectorContext
from sync_core.map.model import IntegrationMap

AGENCY = Path(__file__).resolve().parents[3] / "examples" / "agency.yaml"


def _deal_link(edit: dict[str, Any]) -> str:
    data = yaml.safe_load(AGENCY.read_text())
    data["systems"] = {"pipedrive": {**data["systems"]["pipedrive"], **edit}}
    data["entities"], data["phases"], data["flows"] = {}, [], []
    sandboxes: dict[str, Any] = {}
    context = ConnectorContext(clock=FrozenClock())
    try:
        connectors = build_connectors(IntegrationMap.model_validate(data), context, {}, sandboxes)
        try:
            return connectors["pipedrive"].deep_link("deal", "7")
        finally:
            for connector in connectors.values():
                connector.close()
    finally:
        for served in sandboxes.values():
            served.shutdown()


def test_the_http_sandbox_links_to_the_maps_company() -> None:
    link = _deal_link({"options": {"seed": "agency", "company_domain": "northwind"}})
    assert link == "https://northwind.pipedrive.com/deal/7"


def test_the_http_sandbox_links_to_the_demo_company_when_the_map_names_none() -> None:
    assert _deal_link({"options": {}}) == "https://agency.pipedrive.com/deal/7"


def test_the_in_process_sandbox_links_to_the_maps_company() -> None:
    in_process = {"connector": "sandbox", "base_url": None, "auth": {}}
    link = _deal_link({**in_process, "options": {"emulates": "pipedrive", "company_domain": "nw"}})
    assert link == "https://nw.pipedrive.com/deal/7"
    assert _deal_link({**in_process, "options": {"emulates": "pipedrive"}}).startswith(
        "https://agency.pipedrive.com/"
    )
