"""Retry, Retry all, Ignore and History on a failure alert."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.handlers.alerts import (
    AlertView,
    alert_history,
    may_change_alert,
    retry_alert,
    show_alert,
)
from bot.handlers.results import Notice
from bot.slack.actions.reply import from_home, reply
from bot.slack.events.app_home import publish_home
from bot.slack.services import SlackServices, user_of
from bot.views import ids
from bot.views.alert import ignore_modal


def _alert_id(body: dict[str, Any]) -> int:
    return int(body["actions"][0]["value"])


def register(app: App, services: SlackServices) -> None:
    def retry(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        user = user_of(body)
        ctx = services.for_user(user, client)
        alert_id = _alert_id(body)
        detail = show_alert(ctx, alert_id).detail
        if ctx.operator and detail.state in ("open", "acknowledged") and detail.count > 1:
            # A long action: the clicker sees it started, then its result.
            reply(client, body, Notice(f"Retrying {detail.count} events of alert {alert_id}…"))
        result = retry_alert(ctx, alert_id)
        if isinstance(result, AlertView):
            services.redraw(alert_id)  # the message in the channel, by the one sender
        # The clicker hears the outcome at once, whatever Slack makes of the redraw.
        reply(client, body, result)
        if from_home(body):
            publish_home(client, services, user)

    app.action(ids.ALERT_RETRY)(services.work.listener(ids.ALERT_RETRY, retry))
    app.action(ids.ALERT_RETRY_ALL)(services.work.listener(ids.ALERT_RETRY_ALL, retry))

    def ignore(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
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

    app.action(ids.ALERT_IGNORE)(services.work.listener(ids.ALERT_IGNORE, ignore))

    def history(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ctx = services.for_user(user_of(body), client)
        reply(client, body, alert_history(ctx, _alert_id(body)))

    app.action(ids.ALERT_HISTORY)(services.work.listener(ids.ALERT_HISTORY, history))
