"""Requests the way Slack sends them: form-encoded, signed with the signing secret."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

SECRET = "test-signing-secret"


def signed_headers(
    body: str, *, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": str(signature),
        "Content-Type": "application/x-www-form-urlencoded",
    }


class SlackSender:
    """Posts signed slash commands, button clicks, modal submissions and events."""

    def __init__(self, url: str, response_url: str, secret: str = SECRET) -> None:
        self.url = url
        self.response_url = response_url
        self.secret = secret
        self.http = httpx.Client(timeout=10)

    def close(self) -> None:
        self.http.close()

    def post(self, body: str, headers: dict[str, str] | None = None, **sign: Any) -> httpx.Response:
        if headers is None:
            sign.setdefault("secret", self.secret)
            headers = signed_headers(body, **sign)
        return self.http.post(self.url, content=body, headers=headers)

    def command(
        self, command: str, text: str = "", user: str = "U0USER1", **sign: Any
    ) -> httpx.Response:
        body = urlencode(
            {
                "token": "unused",
                "team_id": "T0TEST",
                "channel_id": "C0GENERAL",
                "user_id": user,
                "user_name": user.lower(),
                "command": command,
                "text": text,
                "response_url": self.response_url,
                "trigger_id": "trigger-1",
            }
        )
        return self.post(body, **sign)

    def interaction(self, payload: dict[str, Any], **sign: Any) -> httpx.Response:
        return self.post(urlencode({"payload": json.dumps(payload)}), **sign)

    def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U0USER1",
        message_ts: str | None = None,
        channel: str = "C0GENERAL",
        home: bool = False,
    ) -> httpx.Response:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": "T0TEST"},
            "user": {"id": user, "username": user.lower()},
            "api_app_id": "A0APP",
            "trigger_id": "trigger-2",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "action_ts": "1700000000.1",
                }
            ],
        }
        if home:
            payload["container"] = {"type": "view", "view_id": "V0HOME"}
            payload["view"] = {"id": "V0HOME", "type": "home"}
        else:
            payload["container"] = {"type": "message", "message_ts": message_ts or "1.1"}
            payload["channel"] = {"id": channel}
            payload["message"] = {"ts": message_ts or "1.1"}
            payload["response_url"] = self.response_url
        return self.interaction(payload)

    def submit(
        self, callback_id: str, values: dict[str, Any], metadata: str, *, user: str = "U0USER1"
    ) -> httpx.Response:
        payload = {
            "type": "view_submission",
            "team": {"id": "T0TEST"},
            "user": {"id": user},
            "api_app_id": "A0APP",
            "view": {
                "id": "V0MODAL",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": metadata,
                "state": {"values": values},
            },
        }
        return self.interaction(payload)

    def event(self, event: dict[str, Any]) -> httpx.Response:
        body = json.dumps(
            {
                "token": "unused",
                "team_id": "T0TEST",
                "api_app_id": "A0APP",
                "type": "event_callback",
                "event_id": "Ev0001",
                "event_time": int(time.time()),
                "event": event,
            }
        )
        headers = signed_headers(body, secret=self.secret)
        headers["Content-Type"] = "application/json"
        return self.http.post(self.url, content=body, headers=headers)
