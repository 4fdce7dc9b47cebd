"""Pipedrive webhooks: subscribe over /v1/webhooks, receive version 1.0 notifications with
HTTP basic auth, and read what changed from them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import SchemaChanged
from connectors.clock import FrozenClock
from connectors.http import ExchangeLog
from connectors.pipedrive.sandbox import PipedriveSandbox
from connectors.pipedrive.webhooks import Notification, parse_notification
from connectors.serving import ServedApp, serve_wsgi

# The fixtures are imported from test_pipedrive.py; pytest injects them by parameter name.
# ruff: noqa: F811
from tests.integration.connectors.test_pipedrive import (  # noqa: F401 - fixtures
    Harness,
    clock,
    harness,
    sandbox,
    seed_deals,
    served,
)

PASSWORD = "receiver-password-5678"


class Receiver:
    """Handoff's side of a webhook: records each POST with its Authorization header."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(size))
        self.received.append((environ.get("HTTP_AUTHORIZATION", ""), body))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"received": true}']


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, ServedApp]]:
    app = Receiver()
    served_receiver = serve_wsgi(app)
    yield app, served_receiver
    served_receiver.shutdown()


def test_subscribe_receive_and_parse(
    harness: Harness,
    sandbox: PipedriveSandbox,
    clock: FrozenClock,
    receiver: tuple[Receiver, ServedApp],
    tmp_path: Path,
) -> None:
    app, served_receiver = receiver
    log = tmp_path / "http.jsonl"
    pd = harness.connector(exchange_log=ExchangeLog(log, clock))
    url = f"{served_receiver.url}/hooks/pipedrive"
    hook_id = pd.webhooks.subscribe(
        url, "deal", http_auth_user="handoff", http_auth_password=PASSWORD
    )
    assert [h["subscription_url"] for h in pd.webhooks.subscriptions()] == [url]

    (deal_id,) = seed_deals(sandbox, clock, 1)
    sandbox.win_deal(deal_id)
    assert sandbox.webhooks.deliver() == [200, 200]  # added, then updated

    expected = "Basic " + base64.b64encode(f"handoff:{PASSWORD}".encode()).decode()
    assert all(auth == expected for auth, _ in app.received)
    notes = [parse_notification(body) for _, body in app.received]
    assert notes == [
        Notification("deal", str(deal_id), "added"),
        Notification("deal", str(deal_id), "updated"),
    ]
    assert app.received[1][1]["current"]["status"] == "won"

    pd.webhooks.unsubscribe(hook_id)
    assert pd.webhooks.subscriptions() == []
    assert PASSWORD not in log.read_text()


def test_notifications_for_other_entities_are_ignored() -> None:
    payload = {"meta": {"object": "activity", "id": 4, "action": "added"}, "current": {}}
    assert parse_notification(payload) is None
    with pytest.raises(SchemaChanged, match="meta"):
        parse_notification({"data": {}})


def test_a_bad_subscription_keeps_pipedrives_errors(harness: Harness) -> None:
    from connectors.base import Permanent

    pd = harness.connector()
    with pytest.raises(Permanent) as caught:
        pd.webhooks.subscribe("not a url", "deal")
    assert caught.value.http_status == 400
    with pytest.raises(Permanent) as missing:
        pd.webhooks.unsubscribe(99)
    assert missing.value.http_status == 404
