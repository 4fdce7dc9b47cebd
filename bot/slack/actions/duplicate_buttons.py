"""Link and Not a duplicate on a probable-duplicate alert, settled and updated in place."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.handlers.alerts import AlertView
from bot.handlers.duplicates import settle_duplicate
from bot.slack.actions.reply import reply, update_alert
from bot.slack.services import SlackServices, user_of
from bot.views import ids

DECISION_OF = {ids.DUPLICATE_LINK: "link", ids.DUPLICATE_DISMISS: "not_duplicate"}


def register(app: App, services: SlackServices) -> None:
    def click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        action = body["actions"][0]
        ctx = services.for_user(user_of(body), client)
        result = settle_duplicate(ctx, int(action["value"]), DECISION_OF[action["action_id"]])
        if not isinstance(result, AlertView) or not update_alert(client, result):
            reply(client, body, result)

    for action_id in DECISION_OF:
        app.action(action_id)(click)
