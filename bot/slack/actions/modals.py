"""Modal submissions: the reason for ignoring an alert, the confirmation of a phase change."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.handlers.alerts import AlertView, ignore_alert
from bot.handlers.phase import PhaseChanged, change_phase
from bot.handlers.results import Notice
from bot.slack.actions.reply import reply
from bot.slack.services import SlackServices, user_of
from bot.views import ids
from bot.views.render import to_message


def _values(body: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = body["view"]["state"]["values"]
    return values


def _reason(body: dict[str, Any]) -> str:
    block = _values(body).get(ids.REASON_BLOCK, {}).get(ids.REASON_INPUT, {})
    return str(block.get("value") or "").strip()


def _override(body: dict[str, Any]) -> bool:
    block = _values(body).get(ids.OVERRIDE_BLOCK, {}).get(ids.OVERRIDE_INPUT, {})
    return any(o.get("value") == "override" for o in block.get("selected_options") or [])


def register(app: App, services: SlackServices) -> None:
    @app.view(ids.IGNORE_MODAL)
    def ignore_submitted(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        reason = _reason(body)
        if not reason:
            ack(response_action="errors", errors={ids.REASON_BLOCK: "Say why, please."})
            return
        ack()
        services.work.submit(ids.IGNORE_MODAL, ignore_work, body, respond, client)

    def ignore_work(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        meta = json.loads(body["view"]["private_metadata"])
        ctx = services.for_user(user_of(body), client)
        alert_id = int(meta["alert"])
        result = ignore_alert(ctx, alert_id, _reason(body))
        if isinstance(result, AlertView):
            services.redraw(alert_id)
        else:
            reply(client, body, result)

    @app.view(ids.PHASE_MODAL)
    def phase_submitted(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        meta = json.loads(body["view"]["private_metadata"])
        user = user_of(body)
        ctx = services.for_user(user, client)
        # The change is quick; doing it before the ack lets a failed gate show in the modal.
        result = change_phase(
            ctx, meta["action"], int(meta["phase"]), _reason(body), override=_override(body)
        )
        if isinstance(result, Notice) and not result.ok:
            ack(response_action="errors", errors={ids.REASON_BLOCK: result.text[:150]})
            return
        ack()
        if isinstance(result, PhaseChanged):
            client.chat_postMessage(channel=services.alert_channel, **to_message(result))
