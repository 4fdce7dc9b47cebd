"""Pipedrive webhooks make `handoff serve` poll at once; a forged notification does nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from bot.serve import BotServer, build_server
from tests.conftest import REPO_ROOT
from tests.e2e.fake_slack import FakeSlack


@pytest.fixture
def webhook_map(tmp_path: Path) -> Path:
    data = yaml.safe_load((REPO_ROOT / "examples/agency.yaml").read_text())
    crm = data["systems"]["pipedrive"]
    crm["options"]["webhook_base_url"] = "self"
    crm["auth"]["webhook_password"] = "env:PIPEDRIVE_WEBHOOK_PASSWORD"
    for flow in data["flows"]:
        flow["schedule"] = "1h"  # only a webhook can make the deal's poll come early
    # nothing typed into accounting by hand (no probable match to review): phase 1 starts live
    data["systems"]["xero"]["options"]["seed"] = "empty"
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def server(slack: FakeSlack, database_url: str, webhook_map: Path) -> Iterator[BotServer]:
    settings = slack.settings(webhook_map, database_url)
    served = build_server(settings, host="127.0.0.1", port=0)
    served.start()
    yield served
    served.stop()


def contact_numbers(server: BotServer) -> set[str]:
    xero = server.runtime.sandboxes["xero"].demo.sandbox
    return {c["ContactNumber"] for c in xero.contacts() if c.get("ContactNumber")}


def wait_for(condition: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_a_won_deal_is_polled_at_once_when_pipedrive_says_so(server: BotServer) -> None:
    crm = server.runtime.sandboxes["pipedrive"].demo.sandbox
    hooks = list(crm.webhooks.subscriptions.values())
    assert {h["event_object"] for h in hooks} == {"deal"}
    assert hooks[0]["subscription_url"] == f"{server.url}/webhooks/pipedrive"
    assert wait_for(lambda: len(contact_numbers(server)) == 15)  # the first sweep

    open_deal = next(d for d in crm.state.items["deal"].values() if d["status"] == "open")
    crm.webhooks.outbox.clear()
    crm.win_deal(open_deal["id"])
    assert crm.webhooks.deliver() == [200]
    assert wait_for(lambda: f"PD-{open_deal['id']}" in contact_numbers(server))


def test_a_notification_without_the_password_is_refused(server: BotServer) -> None:
    url = f"{server.url}/webhooks/pipedrive"
    body = {"meta": {"object": "deal", "id": 1, "action": "updated"}}
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, auth=("handoff", "guess")).status_code == 401
    assert httpx.post(f"{server.url}/webhooks/xero", json=body).status_code == 404
