"""The /where buttons (History, Retry failed, a pick from several matches) and /audit's More."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.handlers.alerts import retry_failed_for
from bot.handlers.audit import audit_page, history
from bot.handlers.where import where_command
from bot.slack.actions.reply import reply
from bot.slack.services import SlackServices, user_of
from bot.views import ids
from bot.views.customer import decode_query


def _value(body: dict[str, Any]) -> str:
    return str(body["actions"][0]["value"])


def register(app: App, services: SlackServices) -> None:
    def where_history(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        reply(client, body, history(services.for_user(user_of(body), client), _value(body)))

    def where_retry(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ctx = services.for_user(user_of(body), client)
        reply(client, body, retry_failed_for(ctx, _value(body)))

    def where_pick(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ctx = services.for_user(user_of(body), client)
        reply(client, body, where_command(ctx, _value(body)))

    def audit_more(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ctx = services.for_user(user_of(body), client)
        reply(client, body, audit_page(ctx, decode_query(_value(body))))

    for action, work in (
        (ids.WHERE_HISTORY, where_history),
        (ids.WHERE_RETRY, where_retry),
        (ids.WHERE_PICK, where_pick),
        (ids.AUDIT_MORE, audit_more),
    ):
        app.action(action)(services.work.listener(action, work))
