"""Building the Bolt app: listeners registered by role, nothing at import time."""

from __future__ import annotations

import logging
from typing import Any

import structlog
from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.slack import actions, commands, events
from bot.slack.services import SlackServices
from bot.slack.work import answer_failure


def web_client(token: str, api_url: str | None = None) -> WebClient:
    """A Web API client; ``api_url`` (SLACK_API_URL) points it elsewhere, e.g. a fake."""
    if api_url:
        base = api_url if api_url.endswith("/") else api_url + "/"
        return WebClient(token=token, base_url=base)
    return WebClient(token=token)


log = structlog.get_logger("handoff.slack")


class _TokenNotice(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused when it is given a client made from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def build_app(
    services: SlackServices,
    *,
    client: WebClient,
    signing_secret: str | None,
    socket_mode: bool = False,
) -> App:
    """The Bolt app. Its construction calls ``auth.test``: a rejected token raises here.

    Over HTTP every request's signature is verified; Socket Mode needs no signing secret.
    """
    logger = logging.getLogger("handoff.slack.bolt")
    if not any(isinstance(f, _TokenNotice) for f in logger.filters):
        logger.addFilter(_TokenNotice())
    app = App(
        client=client,
        signing_secret=signing_secret or "",
        request_verification_enabled=not socket_mode,
        # Listeners only ack and queue their work (bot.slack.work): run on the request's
        # thread, the ack never waits for a free worker.
        process_before_response=True,
        logger=logger,
    )
    commands.register(app, services)
    actions.register(app, services)
    events.register(app, services)
    app.error(_answer_failure)
    return app


def _answer_failure(error: Exception, body: dict[str, Any], respond: Respond | None = None) -> None:
    answer_failure(error, body, respond)
