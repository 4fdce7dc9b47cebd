"""Failure alerts in the watched channel: one message per alert, updated in place."""

from __future__ import annotations

import threading
from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.handlers.alerts import AlertView
from bot.slack.pacer import ChannelPacer
from bot.views.alert import alert_message, escalation_message
from sync_core.alert_detail import AlertDetail, alert_detail
from sync_core.alerts import AlertNotice
from sync_core.map.model import IntegrationMap, format_duration
from sync_core.ports import UnitOfWorkFactory

log = structlog.get_logger("handoff.slack.alerts")


class SlackAlertSink:
    """Posts a new alert (paced per channel), updates it as it grows or recovers, and
    re-raises it in its thread with the map's mention when it escalates."""

    def __init__(
        self,
        client: WebClient,
        uow_factory: UnitOfWorkFactory,
        integration_map: IntegrationMap,
        pacer: ChannelPacer,
    ) -> None:
        self.client = client
        self.uow_factory = uow_factory
        self.map = integration_map
        self.pacer = pacer
        # One alert must not be posted twice by two threads noticing it at once.
        self._lock = threading.Lock()
        self._mentions: dict[str, str] = {}

    def notify(self, notice: AlertNotice) -> None:
        try:
            with self._lock:
                self._notify(notice)
        except SlackApiError as exc:
            # The engine must keep going when Slack refuses; the alert stays in the store.
            log.error("alert not sent to Slack", alert=notice.alert_id, error=_error(exc))

    def post_unsent(self) -> int:
        """Post the open alerts Slack refused earlier (an outage, a rate limit): an alert
        lives in the store first, so a failed post is retried, never lost."""
        with self.uow_factory() as uow:
            unsent = [
                AlertNotice(a.id, "raised", a.group_key, a.count, a.summary, (), a.channel)
                for a in uow.alerts.open_alerts()
                if not a.message_ts
            ]
        for notice in unsent:
            self.notify(notice)
        return len(unsent)

    def _notify(self, notice: AlertNotice) -> None:
        with self.uow_factory() as uow:
            detail = alert_detail(uow, notice.alert_id)
        if detail is None:
            return
        if notice.change == "escalated":
            self._escalate(detail)
        elif detail.message_ts and detail.channel:
            self.refresh(detail)
        else:
            self._post(detail, notice.channel or self.map.alerts.channel)

    def mention(self, mention: str | None) -> str | None:
        """The map's ``mention`` as Slack notifies it: ``@ops-oncall`` names a user group,
        which only pings its members written as ``<!subteam^ID>``."""
        if not mention or not mention.startswith("@") or mention in ("@here", "@channel"):
            return mention
        if mention not in self._mentions:
            try:
                groups = self.client.usergroups_list().get("usergroups") or []
            except SlackApiError as exc:
                log.warning("user group not resolvable", mention=mention, error=_error(exc))
                return mention  # shown as text; tried again next time
            handle = mention[1:]
            found = next((g for g in groups if g.get("handle") == handle), None)
            self._mentions[mention] = f"<!subteam^{found['id']}>" if found else mention
        return self._mentions[mention]

    def refresh(self, detail: AlertDetail, view: AlertView | None = None) -> None:
        """Rewrite the alert's message with its current state (and a click's outcome)."""
        if not (detail.channel and detail.message_ts):
            return
        body = alert_message(view or AlertView(detail))
        self.client.chat_update(channel=detail.channel, ts=detail.message_ts, **body)

    def _post(self, detail: AlertDetail, channel: str) -> None:
        self.pacer.wait(channel)
        answer = self.client.chat_postMessage(channel=channel, **alert_message(AlertView(detail)))
        with self.uow_factory() as uow:
            row = uow.alerts.get(detail.id)
            if row is not None:
                # Slack answers with the channel's ID, which chat.update needs.
                row.channel = str(answer.get("channel") or channel)
                row.message_ts = str(answer["ts"])
                uow.commit()

    def _escalate(self, detail: AlertDetail) -> None:
        after = self.map.alerts.escalate_after
        text = escalation_message(
            detail,
            self.mention(self.map.alerts.mention),
            format_duration(after) if after else "a while",
        )
        channel = detail.channel or self.map.alerts.channel
        self.pacer.wait(channel)
        extra: dict[str, Any] = {"thread_ts": detail.message_ts} if detail.message_ts else {}
        self.client.chat_postMessage(channel=channel, **text, **extra)


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") if exc.response is not None else exc)
