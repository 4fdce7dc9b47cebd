"""The bot under test: the real Bolt app served over HTTP on 127.0.0.1, the engine on the
real store with in-process vendor sandboxes, a frozen clock, and a fake Slack Web API."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.handlers.context import HandlerContext
from bot.slack.alert_sender import AlertSender
from bot.slack.app import build_app, web_client
from bot.slack.pacer import ChannelPacer
from bot.slack.services import SlackServices
from connectors.base import Connector, Record
from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector, sandbox_connector
from connectors.serving import ServedApp, serve_wsgi
from sync_core.alert_outbox import OutboxSink
from sync_core.engine import Engine
from sync_core.map.model import IntegrationMap
from sync_core.ports import UnitOfWorkFactory
from sync_core.store.models import AlertOutboxRow, AlertRow, EventRow
from tests.e2e.fake_slack import FakeSlack
from tests.e2e.signing import SECRET, SlackSender

ADMIN = "U0ADMIN1"
USER = "U0USER1"
ALERT_CHANNEL_ID = "CINTEGRATIO"  # the fake's ID for #integration-alerts
TO_XERO = "won-deal-to-xero-contact"


@dataclass
class Bot:
    map: IntegrationMap
    uow_factory: UnitOfWorkFactory
    slack: FakeSlack
    clock: FrozenClock = field(default_factory=FrozenClock)
    pacer_clock: FrozenClock = field(default_factory=FrozenClock)
    sandboxes: dict[str, SandboxConnector] = field(default_factory=dict)
    # A grouped alert's redraw waits this long (on ``clock``) to gather more changes.
    group_redraw_after: timedelta = timedelta(0)
    # The alert sender runs on a thread of its own, as on the leader; off, tests drive it.
    sending: bool = True

    def __post_init__(self) -> None:
        for name in ("pipedrive", "xero", "asana"):
            self.sandboxes[name] = sandbox_connector(name, name, self.clock)
        client = web_client(self.slack.token, self.slack.api_url)
        self.sink = OutboxSink(
            self.uow_factory, self.clock, group_redraw_after=self.group_redraw_after
        )
        self.sender = AlertSender(
            client, self.uow_factory, self.map, self.clock, ChannelPacer(self.pacer_clock)
        )
        self._stop = threading.Event()
        self._sending = threading.Thread(target=self._send_loop, daemon=True)
        if self.sending:
            self._sending.start()
        connectors: dict[str, Connector] = dict(self.sandboxes)
        self.engine = Engine(
            self.map, self.uow_factory, connectors, self.clock, self.sink, worker_id="e2e"
        )
        self.engine.prepare()
        self.context = HandlerContext(self.map, self.uow_factory, self.engine, self.clock)
        self.services = SlackServices(self.context)
        self.app = build_app(self.services, client=client, signing_secret=SECRET)
        self.served: ServedApp = serve_wsgi(SlackRequestHandler(self.app))
        self.send = SlackSender(self.served.url + "/slack/events", self.slack.response_url())

    def _send_loop(self) -> None:
        while not self._stop.wait(0.02):
            self.sender.send_due()

    def wait_sent(self, timeout: float = 5.0) -> None:
        """Wait until the sender has sent every outbox row that is due (a condition polled
        with a deadline: the sender runs on its own thread)."""
        deadline = time.monotonic() + timeout
        while True:
            now = self.clock.now()
            waiting = [
                r for r in self.rows(AlertOutboxRow) if r.sent_at is None and r.due_at <= now
            ]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"outbox rows not sent: {[r.id for r in waiting]}")
            self._stop.wait(0.01)

    def close(self) -> None:
        self._stop.set()
        if self._sending.is_alive():
            self._sending.join(5)
        self.send.close()
        self.served.shutdown()

    # ---- the business world ------------------------------------------------------------

    def add_deal(self, deal_id: int, org: str, status: str = "won") -> Record:
        return self.sandboxes["pipedrive"].add(
            "deal",
            {
                "id": deal_id,
                "title": "Website Redesign",
                "value": 18000,
                "currency": "GBP",
                "status": status,
                "org_name": org,
                "person_email": f"hello-{deal_id}@example.com",
            },
            external_id=str(deal_id),
        )

    def sync(self) -> Any:
        """One sync; with the sender running, returns once the alerts it raised are sent."""
        report = self.engine.sync_once()
        if self.sending:
            self.wait_sent()
        return report

    def break_xero(self, kind: str = "renamed_field", times: int = 100) -> None:
        self.sandboxes["xero"].fault(kind, times, path="contact/")

    def heal_xero(self) -> None:
        self.sandboxes["xero"].faults.clear()

    def alerts(self) -> list[AlertRow]:
        return self.rows(AlertRow)

    def events(self, flow: str | None = None) -> list[EventRow]:
        return [e for e in self.rows(EventRow) if flow is None or e.flow == flow]

    def rows(self, model: Any) -> list[Any]:
        with self.uow_factory() as uow:
            session = uow.session  # type: ignore[attr-defined]
            rows = list(session.query(model).order_by(model.id).all())
            session.expunge_all()  # detached but loaded: the rollback on exit keeps them intact
            return rows


def advance(clock: FrozenClock, **delta: float) -> None:
    clock.advance(timedelta(**delta))
