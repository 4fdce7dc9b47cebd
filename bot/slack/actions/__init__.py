"""Interactivity listeners: buttons and modal submissions."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.actions import (
    alert_buttons,
    customer_buttons,
    duplicate_buttons,
    match_buttons,
    modals,
)
from bot.slack.services import SlackServices


def register(app: App, services: SlackServices) -> None:
    for module in (alert_buttons, customer_buttons, duplicate_buttons, match_buttons, modals):
        module.register(app, services)
