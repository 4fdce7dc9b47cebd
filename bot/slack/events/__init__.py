"""Event listeners."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.events import app_home
from bot.slack.services import SlackServices


def register(app: App, services: SlackServices) -> None:
    app_home.register(app, services)
