"""``/phase``: status answers directly; promote and rollback open a confirmation modal."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.handlers.phase import PhaseConfirm, phase_command
from bot.slack.commands.common import answer, split_share
from bot.slack.services import SlackServices
from bot.views.blocks import unescape
from bot.views.rollout import confirm_modal


def register(app: App, services: SlackServices) -> None:
    def phase(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        text, shared = split_share(unescape(str(body.get("text") or "")))
        ctx = services.for_user(str(body["user_id"]), client)
        result = phase_command(ctx, text)
        if isinstance(result, PhaseConfirm):
            client.views_open(
                trigger_id=body["trigger_id"],
                view=confirm_modal(result, channel=body.get("channel_id")),
            )
            return
        answer(respond, result, shared=shared)

    app.command("/phase")(services.work.listener("/phase", phase))
