"""The sandbox's webhooks: subscriptions over ``/v1/webhooks`` and an outbox of version 1.0
notifications, delivered when a test or the demo calls :meth:`WebhookHub.deliver`."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.clock import Clock
from connectors.pipedrive.sandbox_state import rfc3339

ACTIONS = ("added", "updated", "merged", "deleted", "*")
OBJECTS = (
    *("activity", "activityType", "deal", "note", "organization", "person", "pipeline"),
    *("product", "stage", "user", "*"),
)


@dataclass
class Delivery:
    url: str
    payload: dict[str, Any]
    auth: tuple[str, str] | None


class WebhookHub:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.subscriptions: dict[int, dict[str, Any]] = {}
        self._passwords: dict[int, str] = {}
        self.outbox: list[Delivery] = []
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        errors = {
            name: [f"{name} is invalid"]
            for name, allowed in (("event_action", ACTIONS), ("event_object", OBJECTS))
            if body.get(name) not in allowed
        }
        if not str(body.get("subscription_url", "")).startswith(("http://", "https://")):
            errors["subscription_url"] = ["subscription_url must be a full URL"]
        if errors:
            return 400, {"success": False, "status": "error", "errors": errors}
        with self._lock:
            ident = self._next_id
            self._next_id += 1
            hook = {
                "id": ident,
                "company_id": 1,
                "owner_id": 1,
                "user_id": int(body.get("user_id", 1)),
                "event_action": body["event_action"],
                "event_object": body["event_object"],
                "subscription_url": body["subscription_url"],
                "is_active": 1,
                "add_time": rfc3339(self.clock.now()),
                "remove_time": None,
                "type": "general",
                "http_auth_user": body.get("http_auth_user"),
                "http_auth_password": None,  # never echoed back
            }
            self.subscriptions[ident] = hook
            if body.get("http_auth_password"):
                self._passwords[ident] = str(body["http_auth_password"])
        return 201, {"success": True, "status": "ok", "data": hook}

    def listing(self) -> tuple[int, dict[str, Any]]:
        with self._lock:
            hooks = list(self.subscriptions.values())
        return 200, {"success": True, "status": "ok", "data": hooks}

    def delete(self, ident: int) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.subscriptions.pop(ident, None) is None:
                errors = {"id": [f"webhook {ident} not found"]}
                return 404, {"success": False, "status": "error", "errors": errors}
            self._passwords.pop(ident, None)
        return 200, {"success": True, "status": "ok"}

    def notify(
        self,
        record_type: str,
        action: str,
        current: dict[str, Any],
        previous: dict[str, Any] | None,
    ) -> None:
        """Queue one notification per matching subscription (called by the state on change)."""
        now = self.clock.now()
        with self._lock:
            for hook in self.subscriptions.values():
                if hook["event_object"] not in ("*", record_type):
                    continue
                if hook["event_action"] not in ("*", action):
                    continue
                payload = {
                    "v": 1,
                    "matches_filters": None,
                    "meta": {
                        "action": action,
                        "object": record_type,
                        "id": current["id"],
                        "company_id": 1,
                        "user_id": hook["user_id"],
                        "timestamp": int(now.timestamp()),
                        "change_source": "api",
                    },
                    "current": current,
                    "previous": previous,
                    "event": f"{action}.{record_type}",
                }
                user, password = hook["http_auth_user"], self._passwords.get(hook["id"])
                auth = (user, password) if user and password else None
                self.outbox.append(Delivery(hook["subscription_url"], payload, auth))

    def deliver(self, client: httpx.Client | None = None) -> list[int]:
        """POST every queued notification; returns the receivers' status codes."""
        with self._lock:
            pending, self.outbox = self.outbox, []
        owned = client is None
        http = client or httpx.Client(timeout=5.0)
        try:
            return [
                http.post(
                    d.url,
                    json=d.payload,
                    auth=httpx.BasicAuth(*d.auth) if d.auth else httpx.USE_CLIENT_DEFAULT,
                ).status_code
                for d in pending
            ]
        finally:
            if owned:
                http.close()
