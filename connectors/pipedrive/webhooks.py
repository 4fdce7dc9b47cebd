"""Pipedrive webhooks (v1 ``/webhooks``): only a faster signal of change. The polling sweep
still runs and catches anything a lost notification missed.

Notifications are of webhook version 1.0 (the API's default): ``meta.object`` names the entity,
``meta.id`` its id and ``meta.action`` what happened (added, updated, merged, deleted).
Pipedrive signs nothing, so the receiver should require the HTTP basic auth set here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import SchemaChanged
from connectors.pipedrive.records import RECORD_TYPES
from connectors.pipedrive.session import PipedriveSession

PATH = "/v1/webhooks"


@dataclass(frozen=True)
class Notification:
    record_type: str
    external_id: str
    action: str


class Webhooks:
    def __init__(self, session: PipedriveSession) -> None:
        self.session = session

    def subscribe(
        self,
        subscription_url: str,
        record_type: str,
        *,
        action: str = "*",
        http_auth_user: str | None = None,
        http_auth_password: str | None = None,
    ) -> int:
        """Ask Pipedrive to POST changes of ``record_type`` to ``subscription_url``."""
        body: dict[str, Any] = {
            "subscription_url": subscription_url,
            "event_action": action,
            "event_object": record_type,
            "version": "1.0",
        }
        if http_auth_user and http_auth_password:
            self.session.extra_secrets.append(http_auth_password)
            body.update(http_auth_user=http_auth_user, http_auth_password=http_auth_password)
        response = self.session.request("POST", PATH, json_body=body)
        data = _data(self.session.json(response), f"POST {PATH}")
        if not isinstance(data, Mapping) or "id" not in data:
            raise SchemaChanged(f"pipedrive: POST {PATH}: response has no webhook 'id'")
        return int(data["id"])

    def subscriptions(self) -> list[Mapping[str, Any]]:
        data = _data(self.session.json(self.session.request("GET", PATH)), f"GET {PATH}")
        if not isinstance(data, list):
            raise SchemaChanged(f"pipedrive: GET {PATH}: response has no 'data' list")
        return data

    def unsubscribe(self, webhook_id: int) -> None:
        self.session.request("DELETE", f"{PATH}/{int(webhook_id)}")


def parse_notification(payload: Any) -> Notification | None:
    """What changed, from a version 1.0 notification body; ``None`` for entities we do not
    sync (activities, notes...)."""
    meta = payload.get("meta") if isinstance(payload, Mapping) else None
    if not isinstance(meta, Mapping) or not {"object", "id", "action"} <= meta.keys():
        raise SchemaChanged("pipedrive webhook: notification has no meta.object/id/action")
    if meta["object"] not in RECORD_TYPES:
        return None
    return Notification(str(meta["object"]), str(meta["id"]), str(meta["action"]))


def _data(body: Any, where: str) -> Any:
    if not isinstance(body, Mapping) or "data" not in body:
        raise SchemaChanged(f"pipedrive: {where}: response has no 'data'")
    return body["data"]
