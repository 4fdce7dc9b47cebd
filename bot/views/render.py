"""One entry point: any handler result to a Slack message."""

from __future__ import annotations

from typing import Any

from bot.handlers.alerts import AlertView
from bot.handlers.audit import AuditView
from bot.handlers.commands import HelpView
from bot.handlers.map_picture import MapPicture
from bot.handlers.match import MatchReviewView, MatchStatusView
from bot.handlers.phase import PhaseChanged, PhaseStatusView
from bot.handlers.results import Notice
from bot.handlers.sync import SyncStatusView
from bot.handlers.where import WhereView
from bot.views.alert import alert_message
from bot.views.blocks import context, escape, message, section
from bot.views.customer import audit_message, where_message
from bot.views.match import match_review_message, match_status_message
from bot.views.rollout import phase_changed_message, phase_status_message, sync_status_message


def help_message(view: HelpView) -> dict[str, Any]:
    lines = "\n".join(f"• {line}" for line in view.lines)
    return message("Handoff commands", [section("*Handoff commands*\n" + lines)])


def notice_message(notice: Notice) -> dict[str, Any]:
    mark = ":no_entry:" if notice.refused else (":warning:" if not notice.ok else "")
    text = f"{mark} {escape(notice.text)}".strip()
    return message(escape(notice.text), [section(text)])


def map_message(picture: MapPicture) -> dict[str, Any]:
    """Where a file cannot go (the terminal, a response URL): the summary and how to draw it."""
    return message(
        escape(picture.summary),
        [
            section(f"*{escape(picture.title)}*\n{escape(picture.summary)}"),
            context(escape("The picture: handoff map render MAP --format png -o map.png")),
        ],
    )


def to_message(result: Any) -> dict[str, Any]:
    if isinstance(result, WhereView):
        return where_message(result)
    if isinstance(result, AuditView):
        return audit_message(result)
    if isinstance(result, PhaseStatusView):
        return phase_status_message(result)
    if isinstance(result, SyncStatusView):
        return sync_status_message(result)
    if isinstance(result, MatchStatusView):
        return match_status_message(result)
    if isinstance(result, MatchReviewView):
        return match_review_message(result)
    if isinstance(result, PhaseChanged):
        return phase_changed_message(result)
    if isinstance(result, AlertView):
        return alert_message(result)
    if isinstance(result, HelpView):
        return help_message(result)
    if isinstance(result, Notice):
        return notice_message(result)
    if isinstance(result, MapPicture):
        return map_message(result)
    return message(escape(str(result)), [context(escape(str(result)))])
