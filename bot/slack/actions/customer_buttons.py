"""The /where buttons (History, Retry failed, a pick from several matches) and /audit's More."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
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
    @app.action(ids.WHERE_HISTORY)
    def where_history(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        reply(client, body, history(services.for_user(user_of(body), client), _value(body)))

    @app.action(ids.WHERE_RETRY)
    def where_retry(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        ctx = services.for_user(user_of(body), client)
        reply(client, body, retry_failed_for(ctx, _value(body)))

    @app.action(ids.WHERE_PICK)
    def where_pick(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        ctx = services.for_user(user_of(body), client)
        reply(client, body, where_command(ctx, _value(body)))

    @app.action(ids.AUDIT_MORE)
    def audit_more(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        ctx = services.for_user(user_of(body), client)
        reply(client, body, audit_page(ctx, decode_query(_value(body))))
