"""App Home: the dashboard, published whenever someone opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.handlers.home import home
from bot.slack.services import SlackServices
from bot.views.home import home_view


def publish_home(client: WebClient, services: SlackServices, user_id: str) -> None:
    client.views_publish(user_id=user_id, view=home_view(home(services.context)))


def register(app: App, services: SlackServices) -> None:
    def publish(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        publish_home(client, services, str(body["event"]["user"]))

    @app.event("app_home_opened")
    def opened(
        event: dict[str, Any], body: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        # Events are acked by Bolt when this returns: the dashboard is built after.
        if event.get("tab", "home") == "home":
            services.work.submit("app_home_opened", publish, body, respond, client)
