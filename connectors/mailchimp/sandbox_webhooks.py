"""The Mailchimp sandbox's audience webhooks: ``/lists/{list_id}/webhooks`` and an outbox of
notifications as Mailchimp posts them (form-encoded ``type``, ``fired_at`` and ``data[...]``),
delivered when a test or the demo calls :meth:`WebhookHub.deliver`.

As Mailchimp does, a new webhook's URL is validated with a GET first (a URL that does not
answer 200 is refused), and nothing is signed: the receiver checks a secret in the URL.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.clock import Clock

EVENTS = ("subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign")
SOURCES = ("user", "admin", "api")


class Refused(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass
class Delivery:
    url: str
    form: dict[str, str]


class WebhookHub:
    def __init__(self, clock: Clock, *, validate: bool = True) -> None:
        self.clock = clock
        self.validate = validate  # GET the URL before accepting it, as Mailchimp does
        self.hooks: dict[str, dict[str, Any]] = {}
        self.outbox: list[Delivery] = []
        self._lock = threading.Lock()
        self.get: Callable[[str], int] = _get_status

    def add(self, list_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, Mapping) or not str(body.get("url", "")).startswith(
            ("http://", "https://")
        ):
            raise Refused(400, "Invalid Resource", "url must be a full http(s) URL")
        url = str(body["url"])
        if any(h["url"] == url and h["list_id"] == list_id for h in self.hooks.values()):
            raise Refused(400, "Invalid Resource", "The webhook URL already exists.")
        if self.validate and self.get(url) != 200:
            raise Refused(400, "Invalid Resource", "The resource submitted could not be validated.")
        events = _flags(body.get("events"), EVENTS, "events")
        sources = _flags(body.get("sources"), SOURCES, "sources")
        hook_id = uuid.uuid4().hex[:10]
        hook: dict[str, Any] = {
            "id": hook_id,
            "url": url,
            "events": {e: events.get(e, True) for e in EVENTS},
            "sources": {s: sources.get(s, True) for s in SOURCES},
            "list_id": list_id,
        }
        with self._lock:
            self.hooks[hook_id] = hook
        return dict(hook)

    def listing(self, list_id: str) -> dict[str, Any]:
        with self._lock:
            hooks = [dict(h) for h in self.hooks.values() if h["list_id"] == list_id]
        return {"webhooks": hooks, "list_id": list_id, "total_items": len(hooks)}

    def delete(self, list_id: str, hook_id: str) -> None:
        with self._lock:
            hook = self.hooks.get(hook_id)
            if hook is None or hook["list_id"] != list_id:
                raise Refused(404, "Resource Not Found", "The requested resource was not found")
            del self.hooks[hook_id]

    def notify(
        self,
        list_id: str,
        current: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
        source: str = "api",
    ) -> None:
        """Queue the notification a change of one member makes (called by the state)."""
        event, data = _event(list_id, current, previous)
        if event is None:
            return
        form = {"type": event, "fired_at": self.clock.now().strftime("%Y-%m-%d %H:%M:%S")}
        for key, value in data.items():
            if isinstance(value, Mapping):
                form.update({f"data[{key}][{k}]": str(v) for k, v in value.items()})
            else:
                form[f"data[{key}]"] = str(value)
        with self._lock:
            for hook in self.hooks.values():
                if hook["list_id"] == list_id and hook["events"][event] and hook["sources"][source]:
                    self.outbox.append(Delivery(hook["url"], dict(form)))

    def deliver(self, client: httpx.Client | None = None) -> list[int]:
        """POST every queued notification (form-encoded); returns the receivers' statuses."""
        with self._lock:
            pending, self.outbox = self.outbox, []
        owned = client is None
        http = client or httpx.Client(timeout=10.0)  # Mailchimp gives up after 10 seconds
        try:
            return [http.post(d.url, data=d.form).status_code for d in pending]
        finally:
            if owned:
                http.close()


def _event(
    list_id: str, current: Mapping[str, Any], previous: Mapping[str, Any] | None
) -> tuple[str | None, dict[str, Any]]:
    member = {
        "id": str(current["id"]),
        "list_id": list_id,
        "email": str(current["email_address"]),
        "email_type": str(current.get("email_type") or "html"),
        "web_id": str(current.get("web_id") or ""),
    }
    merges = {"merges": {"EMAIL": member["email"], **(current.get("merge_fields") or {})}}
    if previous is None:
        return ("subscribe" if current["status"] == "subscribed" else None), {**member, **merges}
    if previous["email_address"] != current["email_address"]:
        return "upemail", {
            "list_id": list_id,
            "new_id": str(current["id"]),
            "new_email": str(current["email_address"]),
            "old_email": str(previous["email_address"]),
        }
    if previous["status"] != current["status"]:
        if current["status"] == "unsubscribed":
            return "unsubscribe", {**member, "action": "unsub", "reason": "manual", **merges}
        if current["status"] == "cleaned":
            return "cleaned", {"list_id": list_id, "reason": "hard", "email": member["email"]}
        if current["status"] == "subscribed":
            return "subscribe", {**member, **merges}
    if previous.get("merge_fields") != current.get("merge_fields"):
        return "profile", {**member, **merges}
    return None, {}


def _flags(value: Any, names: tuple[str, ...], what: str) -> dict[str, bool]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or set(value) - set(names):
        raise Refused(400, "Invalid Resource", f"{what} takes only {', '.join(names)}")
    return {str(k): bool(v) for k, v in value.items()}


def _get_status(url: str) -> int:
    try:
        return httpx.get(url, timeout=10.0).status_code
    except httpx.HTTPError:
        return 0
