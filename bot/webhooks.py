"""Vendor webhooks: a faster signal of change, never a source of data.

A notification at ``POST /webhooks/<system>`` makes the scheduler poll that system's record
type now; the poll reads the change through the API as usual, so a lost or forged notification
can cost at most one early poll. The regular sweep still runs and catches whatever a lost
notification missed. Vendors like Pipedrive sign nothing, so a notification must carry HTTP
basic auth; Mailchimp's carry no credentials at all, so a connector naming a
``signal_secret_param`` is checked for the password as that query parameter of the URL.

A system opts in with ``options: {webhook_base_url: https://handoff.example.com}`` (the
address the vendor can reach; ``self`` means this server's own address, for the built-in
sandboxes) and a credential ``webhook_password: env:...`` (user ``options.webhook_user``,
default ``handoff``). Bodies are JSON, or form-encoded (Mailchimp) when the request says so;
a ``GET`` with the right secret answers 200, for vendors that check a URL before using it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import structlog

from bot.bootstrap import Runtime
from connectors.base import ConnectorError
from connectors.capabilities import ChangeSignals
from sync_core.scheduler import SyncScheduler

log = structlog.get_logger("handoff.webhooks")

PATH_PREFIX = "/webhooks/"


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    body: dict[str, Any]


class WebhookReceiver:
    def __init__(self, runtime: Runtime, scheduler: SyncScheduler) -> None:
        self.runtime = runtime
        self.scheduler = scheduler

    def enabled(self, system: str) -> bool:
        options = (
            self.runtime.map.systems[system].options if system in self.runtime.map.systems else {}
        )
        return bool(options.get("webhook_base_url")) and self._signals(system) is not None

    def _signals(self, system: str) -> ChangeSignals | None:
        connector = self.runtime.connectors.get(system)
        return connector if isinstance(connector, ChangeSignals) else None

    def _credentials(self, system: str) -> tuple[str, str]:
        options = self.runtime.map.systems[system].options
        password = self.runtime.credentials.get(system, {}).get("webhook_password", "")
        return str(options.get("webhook_user") or "handoff"), password

    def subscribe_all(self, own_url: str) -> dict[str, list[str]]:
        """Make sure each opted-in system notifies us about the record types we poll."""
        added: dict[str, list[str]] = {}
        for system, spec in self.runtime.map.systems.items():
            if not self.enabled(system):
                continue
            base = str(spec.options["webhook_base_url"])
            url = (own_url if base == "self" else base).rstrip("/") + PATH_PREFIX + system
            record_types = [s.record_type for s in self.runtime.map.sources() if s.system == system]
            user, password = self._credentials(system)
            connector = self._signals(system)
            assert connector is not None  # enabled() checked it
            try:
                added[system] = connector.ensure_change_signals(
                    url, record_types, user=user, password=password
                )
            except ConnectorError as exc:
                # Webhooks only speed things up: polling goes on without them.
                log.warning("webhook subscription failed", system=system, error=str(exc))
        return added

    def _authorized(self, system: str, authorization: str, query: str) -> bool:
        user, password = self._credentials(system)
        if not password:
            return False
        param = getattr(self.runtime.connectors[system], "signal_secret_param", None)
        if param:
            given = dict(parse_qsl(query)).get(str(param), "")
            return hmac.compare_digest(given.encode(), password.encode())
        return _basic_auth_matches(authorization, user, password)

    def validate(self, system: str, query: str) -> WebhookAnswer:
        """A vendor checking the URL before it subscribes it (Mailchimp GETs it)."""
        if not self.enabled(system):
            return WebhookAnswer(404, {"ok": False, "error": "no webhooks for this system"})
        if not self._authorized(system, "", query):
            return WebhookAnswer(401, {"ok": False, "error": "unauthorized"})
        return WebhookAnswer(200, {"ok": True})

    def handle(
        self,
        system: str,
        authorization: str,
        body: bytes,
        *,
        query: str = "",
        content_type: str = "",
    ) -> WebhookAnswer:
        if not self.enabled(system):
            return WebhookAnswer(404, {"ok": False, "error": "no webhooks for this system"})
        if not self._authorized(system, authorization, query):
            log.warning("webhook refused: bad credentials", system=system)
            return WebhookAnswer(401, {"ok": False, "error": "unauthorized"})
        try:
            payload: Any
            if content_type.startswith("application/x-www-form-urlencoded"):
                payload = dict(parse_qsl(body.decode(), keep_blank_values=True))
            else:
                payload = json.loads(body or b"{}")
            connector = self._signals(system)
            assert connector is not None  # enabled() checked it
            record_type = connector.change_signal(payload)
        except (ValueError, ConnectorError) as exc:
            return WebhookAnswer(400, {"ok": False, "error": str(exc)[:200]})
        if record_type is None:
            return WebhookAnswer(200, {"ok": True, "polled": None})
        job = self.scheduler.scheduler.get_job(f"poll:{system}.{record_type}")
        if job is None:
            return WebhookAnswer(200, {"ok": True, "polled": None})
        job.modify(next_run_time=datetime.now(UTC))
        return WebhookAnswer(200, {"ok": True, "polled": f"{system}.{record_type}"})


def _basic_auth_matches(header: str, user: str, password: str) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    given_user, _, given_password = given.partition(":")
    return hmac.compare_digest(given_user, user) & hmac.compare_digest(given_password, password)
