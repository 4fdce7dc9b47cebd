"""Slash command listeners: each acks at once, then runs its handler and answers."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.commands import audit, handoff, map_picture, match, phase, sync, where
from bot.slack.services import SlackServices


def register(app: App, services: SlackServices) -> None:
    for module in (where, audit, phase, sync, match, map_picture, handoff):
        module.register(app, services)
