"""Ack first, then work: Slack wants an answer within 3 seconds, the work may take longer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.handlers.context import HandlerContext
from bot.handlers.results import Notice
from bot.slack.services import SlackServices
from bot.views.blocks import unescape
from bot.views.render import to_message

log = structlog.get_logger("handoff.slack")

SHARE_WORD = "share"


def split_share(text: str) -> tuple[str, bool]:
    """A trailing ``share`` posts the answer in the channel instead of only to the asker."""
    words = text.split()
    if words and words[-1].lower() == SHARE_WORD:
        return " ".join(words[:-1]), True
    return text.strip(), False


def answer(respond: Respond, result: Any, *, shared: bool = False) -> None:
    respond(
        **to_message(result),
        response_type="in_channel" if shared else "ephemeral",
        replace_original=False,
    )


def simple_command(
    app: App,
    services: SlackServices,
    name: str,
    handler: Callable[[HandlerContext, str], Any],
) -> None:
    """Register ``name``: ack, then run ``handler`` as the user on the work pool and answer
    through the response_url."""

    def work(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        text, shared = split_share(unescape(str(body.get("text") or "")))
        ctx = services.for_user(str(body["user_id"]), client)
        try:
            result = handler(ctx, text)
        except Exception:
            log.exception("command failed", command=name)
            result = Notice(f"{name} failed; the error is in Handoff's log.", ok=False)
        answer(respond, result, shared=shared)

    app.command(name)(services.work.listener(name, work))
