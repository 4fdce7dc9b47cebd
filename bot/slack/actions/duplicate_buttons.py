"""Link, Merge and Not a duplicate on a probable-duplicate alert, settled and updated in
place."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.handlers.alerts import AlertView
from bot.handlers.duplicates import settle_duplicate
from bot.slack.actions.reply import reply
from bot.slack.services import SlackServices, user_of
from bot.views.duplicate import DECISION_OF


def register(app: App, services: SlackServices) -> None:
    def click(body: dict[str, Any], _respond: Respond, client: WebClient) -> None:
        action = body["actions"][0]
        ctx = services.for_user(user_of(body), client)
        alert_id = int(action["value"])
        result = settle_duplicate(ctx, alert_id, DECISION_OF[action["action_id"]])
        if isinstance(result, AlertView):
            services.redraw(alert_id)  # the message in the channel, by the one sender
        # The clicker hears the outcome at once, whatever Slack makes of the redraw.
        reply(client, body, result)

    for action_id in DECISION_OF:
        app.action(action_id)(services.work.listener(action_id, click))
