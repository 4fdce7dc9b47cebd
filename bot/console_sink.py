"""Alerts printed to the terminal (the alert sink when Slack is not configured)."""

from __future__ import annotations

from rich.console import Console

from bot.render import plain
from bot.views.alert import next_step
from sync_core.alerts import AlertNotice


class ConsoleAlertSink:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.notices: list[AlertNotice] = []

    def notify(self, notice: AlertNotice) -> None:
        self.notices.append(notice)
        label = {"raised": "ALERT", "grouped": "ALERT (grouped)", "resolved": "RECOVERED"}.get(
            notice.change, notice.change.upper()
        )
        events = f" events {', '.join(map(str, notice.event_ids))}" if notice.event_ids else ""
        hint = (
            ""
            if notice.change == "resolved"
            else f" — {next_step(notice.group_key, notice.event_ids)}"
        )
        self.console.print(
            f"[bold red]{label}[/] #{notice.alert_id} {plain(notice.channel or '')}: "
            f"{plain(notice.summary)}{events}{plain(hint)}",
            highlight=False,
        )
