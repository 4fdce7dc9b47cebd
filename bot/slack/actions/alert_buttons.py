"""Retry, Retry all, Ignore and History on a failure alert."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.handlers.alerts import (
    AlertView,
    alert_history,
    may_change_alert,
    retry_alert,
    show_alert,
)
from bot.slack.actions.reply import from_home, reply, update_alert
from bot.slack.events.app_home import publish_home
from bot.slack.services import SlackServices, user_of
from bot.views import ids
from bot.views.alert import ignore_modal


def _alert_id(body: dict[str, Any]) -> int:
    return int(body["actions"][0]["value"])


def register(app: App, services: SlackServices) -> None:
    def retry(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user = user_of(body)
        ctx = services.for_user(user, client)
        result = retry_alert(ctx, _alert_id(body))
        # A stale click or a refusal changes nothing: only the clicker hears of it.
        if not isinstance(result, AlertView) or not update_alert(client, result):
            reply(client, body, result)
        if from_home(body):
            publish_home(client, services, user)

    app.action(ids.ALERT_RETRY)(retry)
    app.action(ids.ALERT_RETRY_ALL)(retry)

    @app.action(ids.ALERT_IGNORE)
    def ignore(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        alert_id = _alert_id(body)
        refused = may_change_alert(services.for_user(user_of(body), client), alert_id)
        if refused is not None:
            reply(client, body, refused)
            return
        detail = show_alert(services.context, alert_id).detail
        client.views_open(
            trigger_id=body["trigger_id"],
            view=ignore_modal(alert_id, detail.channel, detail.message_ts),
        )

    @app.action(ids.ALERT_HISTORY)
    def history(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        ctx = services.for_user(user_of(body), client)
        reply(client, body, alert_history(ctx, _alert_id(body)))
