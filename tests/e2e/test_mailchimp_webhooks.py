"""Mailchimp audience webhooks make `handoff serve` poll the audience at once: the URL the
server subscribes carries its secret (Mailchimp signs nothing), answers Mailchimp's GET check,
and takes Mailchimp's form-encoded notifications; one without the secret is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import yaml

from bot.serve import BotServer, build_server
from connectors.mailchimp.records import subscriber_hash
from tests.conftest import REPO_ROOT
from tests.e2e.fake_slack import FakeSlack


@pytest.fixture
def webhook_map(tmp_path: Path) -> Path:
    data = yaml.safe_load((REPO_ROOT / "examples/agency.yaml").read_text())
    newsletter = data["systems"]["mailchimp"]
    newsletter["options"]["webhook_base_url"] = "self"
    newsletter["auth"]["webhook_password"] = "env:MAILCHIMP_WEBHOOK_PASSWORD"
    for flow in data["flows"]:
        flow["schedule"] = "1h"
    # A flow that reads the audience, so its members are polled (and signalled).
    data["flows"].append(
        {
            "name": "newsletter-unsubscribe-to-contact",
            "phase": 4,
            "from": "mailchimp.member",
            "when": "status == 'unsubscribed'",
            "to": "xero.contact",
            "schedule": "1h",
            "fields": {"FirstName": "{{ COMPANY }}"},
        }
    )
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


def test_the_audience_is_subscribed_and_its_notifications_make_a_poll(server: BotServer) -> None:
    box = server.runtime.sandboxes["mailchimp"].demo.sandbox
    [list_id] = box.state.lists
    [hook] = box.webhooks.listing(list_id)["webhooks"]
    url = urlsplit(hook["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{server.url}/webhooks/mailchimp"
    secret = dict(parse_qsl(url.query))["secret"]
    assert secret == server.runtime.credentials["mailchimp"]["webhook_password"]

    box.webhooks.outbox.clear()
    box.state.put_member(
        list_id, subscriber_hash("jane@acme.example"), {"status": "unsubscribed"}, put=False
    )
    assert box.webhooks.deliver() == [200]
    # What the server answers Mailchimp: the audience's members are polled now.
    answer = httpx.post(
        hook["url"], data={"type": "unsubscribe", "data[list_id]": list_id, "data[email]": "x@y"}
    )
    assert answer.json() == {"ok": True, "polled": "mailchimp.member"}


def test_a_notification_without_the_secret_is_refused(server: BotServer) -> None:
    url = f"{server.url}/webhooks/mailchimp"
    form = {"type": "profile", "data[list_id]": "x"}
    assert httpx.post(url, data=form).status_code == 401
    assert httpx.post(url, params={"secret": "guess"}, data=form).status_code == 401
    assert httpx.get(url).status_code == 401  # Mailchimp's check needs the secret too
    # Basic auth is no way in: Mailchimp sends none, so only the URL's secret counts.
    password = server.runtime.credentials["mailchimp"]["webhook_password"]
    assert httpx.post(url, data=form, auth=("handoff", password)).status_code == 401
    assert httpx.get(url, params={"secret": password}).status_code == 200
