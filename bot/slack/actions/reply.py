"""Answering a click: to its message's thread of replies, or by DM when it came from App Home."""

from __future__ import annotations

from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.handlers.alerts import AlertView
from bot.views.alert import alert_message
from bot.views.render import to_message

log = structlog.get_logger("handoff.slack")


def reply(client: WebClient, body: dict[str, Any], result: Any) -> None:
    """Ephemeral through the response_url when there is one (messages); a DM otherwise."""
    message = to_message(result)
    url = body.get("response_url")
    if url:
        from slack_sdk.webhook import WebhookClient

        WebhookClient(url).send(
            text=message["text"],
            blocks=message["blocks"],
            response_type="ephemeral",
            replace_original=False,
        )
    else:
        client.chat_postMessage(channel=body["user"]["id"], **message)


def update_alert(client: WebClient, view: AlertView) -> bool:
    """Rewrite the alert's message in the channel with its new state and the click's outcome.

    False when Slack refused the update (or there is no message): the caller then tells the
    clicker what happened, since the retry itself did what the outcome says."""
    d = view.detail
    if not (d.channel and d.message_ts):
        return False
    try:
        client.chat_update(channel=d.channel, ts=d.message_ts, **alert_message(view))
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "?"
        log.warning("alert message not updated", alert=d.id, error=error)
        return False
    return True


def from_home(body: dict[str, Any]) -> bool:
    return (body.get("view") or {}).get("type") == "home"
