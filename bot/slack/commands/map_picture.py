"""``/map``: the map's picture as a PNG file and a short summary, sent to the asker.

The file goes up in Slack's three steps (``files.getUploadURLExternal``, the upload, then
``files.completeUploadExternal`` sharing it with the asker); that needs the ``files:write``
scope.
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.handlers.map_picture import MapPicture, map_command
from bot.handlers.results import Notice
from bot.slack.commands.common import answer
from bot.slack.services import SlackServices
from bot.views.blocks import unescape

log = structlog.get_logger("handoff.slack")


def register(app: App, services: SlackServices) -> None:
    def map_work(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        user = str(body["user_id"])
        ctx = services.for_user(user, client)
        result = map_command(ctx, unescape(str(body.get("text") or "")))
        if not isinstance(result, MapPicture):
            answer(respond, result)
            return
        try:
            client.files_upload_v2(
                content=result.png,
                filename=result.filename,
                title=result.title,
                alt_txt=result.summary.splitlines()[0],
                channels=[user],
                initial_comment=result.summary,
            )
        except (SlackApiError, SlackRequestError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else str(exc)
            log.warning("map picture not uploaded", error=error)
            scope = " (the app needs the files:write scope)" if error == "missing_scope" else ""
            answer(respond, Notice(f"Could not send the picture: {error}{scope}.", ok=False))

    app.command("/map")(services.work.listener("/map", map_work))
