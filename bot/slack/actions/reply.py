"""Answering a click: to its message's thread of replies, or by DM when it came from App Home."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot.views.render import to_message


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


def from_home(body: dict[str, Any]) -> bool:
    return (body.get("view") or {}).get("type") == "home"
