"""Alerts shown by the console twin: the Slack alert message, with numbered buttons."""

from __future__ import annotations

import json
import threading

from bot.console.twin import ConsoleTwin
from bot.handlers.alerts import AlertView
from bot.views.alert import escalation_message
from bot.views.render import to_message
from sync_core.alert_detail import alert_detail
from sync_core.alerts import AlertNotice
from sync_core.map.model import format_duration


class ConsoleTwinSink:
    def __init__(self, twin: ConsoleTwin) -> None:
        self.twin = twin
        self._last: dict[int, str] = {}  # alert id -> the blocks last printed for it
        self._lock = threading.Lock()

    def notify(self, notice: AlertNotice) -> None:
        ctx = self.twin.ctx
        with ctx.uow_factory() as uow:
            detail = alert_detail(uow, notice.alert_id)
        if detail is None:
            return
        if notice.change == "escalated":
            after = ctx.map.alerts.escalate_after
            message = escalation_message(
                detail, ctx.map.alerts.mention, format_duration(after) if after else "a while"
            )
            self.twin.print_blocks(message["blocks"])
            return
        # Slack updates an alert's message in place; a terminal can only print it again, so an
        # alert is printed again only when what it shows has changed (a second event joining
        # below the group threshold, or the same event dying again, changes nothing shown).
        view = AlertView(detail)
        shown = json.dumps(to_message(view)["blocks"], sort_keys=True, default=str)
        with self._lock:
            if self._last.get(notice.alert_id) == shown:
                return
            self._last[notice.alert_id] = shown
        self.twin.show(view)
