"""Accept, Reject and Not sure on a /match review proposal: decided, then the message is
replaced in place by the next proposal."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.handlers.match import decide_proposal
from bot.handlers.results import Notice
from bot.slack.actions.reply import reply
from bot.slack.services import SlackServices, user_of
from bot.views.match import DECISION_OF
from bot.views.render import to_message


def register(app: App, services: SlackServices) -> None:
    def click(body: dict[str, Any], _respond: Respond, client: WebClient) -> None:
        action = body["actions"][0]
        ctx = services.for_user(user_of(body), client)
        result = decide_proposal(ctx, int(action["value"]), DECISION_OF[action["action_id"]])
        url = body.get("response_url")
        if isinstance(result, Notice) or not url:
            reply(client, body, result)
            return
        from slack_sdk.webhook import WebhookClient

        message = to_message(result)
        WebhookClient(url).send(
            text=message["text"], blocks=message["blocks"], replace_original=True
        )

    for action_id in DECISION_OF:
        app.action(action_id)(services.work.listener(action_id, click))
