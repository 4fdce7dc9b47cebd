"""Socket Mode: with SLACK_APP_TOKEN the bot opens a WebSocket (to a local fake) instead of
serving /slack/events, acks each envelope, and answers as over HTTP."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.server import Server, ServerConnection, serve

from bot.serve import BotServer, ServeError, build_server
from bot.settings import Settings
from connectors.clock import FrozenClock
from tests.conftest import REPO_ROOT
from tests.e2e.fake_slack import FakeSlack

AGENCY = REPO_ROOT / "examples" / "agency.yaml"


class FakeSocket:
    """Slack's end of the Socket Mode connection: says hello, sends envelopes, hears acks."""

    def __init__(self) -> None:
        self.outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self.server: Server = serve(self._handle, "127.0.0.1", 0)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link"

    def _handle(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps(
                {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}}
            )
        )
        self.connected.set()
        while True:
            try:
                envelope = self.outbox.get(timeout=0.05)
                connection.send(json.dumps(envelope))
            except queue.Empty:
                pass
            try:
                message = connection.recv(timeout=0.05)
            except TimeoutError:
                continue
            except Exception:
                return
            self.received.put(json.loads(message))

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def socket_bot(slack: FakeSlack, database_url: str) -> Iterator[tuple[BotServer, FakeSocket]]:
    fake = FakeSocket()
    slack.socket_url = fake.url
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.api_url,
        },
        map_path=AGENCY,
        database_url=database_url,
    )
    server = build_server(settings, host="127.0.0.1", port=0, clock=FrozenClock())
    yield server, fake
    server.stop()
    fake.close()


def test_socket_mode_connects_acks_and_answers(
    socket_bot: tuple[BotServer, FakeSocket], slack: FakeSlack
) -> None:
    server, fake = socket_bot
    server.start()
    assert fake.connected.wait(10)
    assert len(slack.of("apps.connections.open")) == 2  # the start-up check, then the link

    fake.outbox.put(
        {
            "envelope_id": "env-1",
            "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": {
                "command": "/handoff",
                "text": "help",
                "user_id": "U0USER1",
                "channel_id": "C0GENERAL",
                "team_id": "T0TEST",
                "response_url": slack.response_url(),
                "trigger_id": "trigger-1",
            },
        }
    )

    ack = fake.received.get(timeout=10)
    assert ack["envelope_id"] == "env-1"
    answer = slack.wait_call("response_url")
    assert "/where QUERY" in answer.text
    assert server.health()["mode"] == "socket"


def test_a_rejected_app_token_stops_start_up(slack: FakeSlack, database_url: str) -> None:
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_APP_TOKEN": "xapp-revoked",
            "SLACK_API_URL": slack.api_url,
        },
        map_path=AGENCY,
        database_url=database_url,
    )
    with pytest.raises(ServeError, match=r"^Slack rejected SLACK_APP_TOKEN \(invalid_auth\)$"):
        build_server(settings, host="127.0.0.1", port=0, clock=FrozenClock())
