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
        # alert id -> the blocks last printed for it, and how many events it covered
        self._last: dict[int, tuple[str, int]] = {}
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
        # alert is printed again only when what it shows has changed. A second event joining
        # below the group threshold changes nothing shown: one line says so instead.
        view = AlertView(detail)
        shown = json.dumps(to_message(view)["blocks"], sort_keys=True, default=str)
        with self._lock:
            before = self._last.get(notice.alert_id)
            self._last[notice.alert_id] = (shown, notice.count)
        if before is None or before[0] != shown:
            self.twin.show(view)
        elif before[1] != notice.count:
            self.twin.console.print(
                f"(alert {notice.alert_id} above now covers {notice.count} events)",
                markup=False,
                highlight=False,
            )
