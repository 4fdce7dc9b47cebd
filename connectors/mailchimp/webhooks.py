"""Mailchimp audience webhooks (``/lists/{list_id}/webhooks``): only a faster signal of change.
The polling sweep still runs and catches anything a lost notification missed.

Mailchimp posts form-encoded notifications (``type=subscribe|unsubscribe|profile|cleaned|
upemail|campaign``, ``fired_at``, ``data[...]``) and signs nothing; its guide suggests a secret
key in the webhook URL, checked on each request, so the URL subscribed carries the webhook
password as the ``secret`` query parameter. Mailchimp checks a new webhook's URL with a GET
before accepting it, so the receiver answers GET too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from connectors.base import SchemaChanged

SECRET_PARAM = "secret"
# Audience events that change a member; ``campaign`` (a campaign sent) changes none.
MEMBER_EVENTS = ("subscribe", "unsubscribe", "profile", "cleaned", "upemail")
EVENTS = (*MEMBER_EVENTS, "campaign")
SOURCES = ("user", "admin", "api")  # a subscriber, someone in the web app, an API client


@dataclass(frozen=True)
class Notification:
    event: str
    list_id: str | None
    email: str | None


def secret_url(url: str, secret: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode({SECRET_PARAM: secret})}"


class Webhooks:
    def __init__(self, call: Callable[..., Any], list_path: str) -> None:
        self.call = call
        self.path = f"{list_path}/webhooks"

    def subscriptions(self) -> list[Mapping[str, Any]]:
        body = self.call("GET", self.path)
        hooks = body.get("webhooks") if isinstance(body, Mapping) else None
        if not isinstance(hooks, list):
            raise SchemaChanged(f"mailchimp: GET {self.path}: response has no 'webhooks' list")
        return hooks

    def subscribe(self, url: str) -> str:
        """Ask Mailchimp to POST the audience's member changes to ``url``, whoever made them."""
        body = {
            "url": url,
            "events": {event: event in MEMBER_EVENTS for event in EVENTS},
            "sources": dict.fromkeys(SOURCES, True),
        }
        created = self.call("POST", self.path, json_body=body)
        if not isinstance(created, Mapping) or "id" not in created:
            raise SchemaChanged(f"mailchimp: POST {self.path}: response has no webhook 'id'")
        return str(created["id"])

    def unsubscribe(self, webhook_id: str) -> None:
        self.call("DELETE", f"{self.path}/{webhook_id}")


def parse_notification(form: Mapping[str, str]) -> Notification | None:
    """What a notification says, from its form fields; ``None`` for an empty post (a check)."""
    if not form:
        return None
    event = form.get("type")
    if not event:
        raise SchemaChanged("mailchimp webhook: notification has no 'type'")
    email = form.get("data[email]") or form.get("data[new_email]")
    return Notification(str(event), form.get("data[list_id]"), email)
