from __future__ import annotations

from slack_bolt import App

from bot.handlers.match import match_command
from bot.slack.commands.common import simple_command
from bot.slack.services import SlackServices


def register(app: App, services: SlackServices) -> None:
    simple_command(app, services, "/match", match_command)
