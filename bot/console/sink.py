"""Alerts shown by the console twin: the Slack alert message, with numbered buttons."""

from __future__ import annotations

from bot.console.twin import ConsoleTwin
from bot.handlers.alerts import AlertView
from bot.views.alert import escalation_message
from sync_core.alert_detail import alert_detail
from sync_core.alerts import AlertNotice
from sync_core.map.model import format_duration


class ConsoleTwinSink:
    def __init__(self, twin: ConsoleTwin) -> None:
        self.twin = twin

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
        self.twin.show(AlertView(detail))
