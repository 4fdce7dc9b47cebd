"""The one sender of alert messages: it sends the outbox's rows (``sync_core.alert_outbox``)
from the leader process, paced per channel, retried with backoff and Slack's ``Retry-After``.

An alert's due rows are leased together, so one alert is only ever sent by one sender at a
time, whatever the number of processes; its redraws become one ``chat.update`` (or one
``chat.postMessage`` when it has no message yet) drawn from the alert as it stands.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.handlers.alerts import AlertView
from bot.slack.pacer import ChannelPacer
from bot.views.alert import alert_message, escalation_message
from connectors.clock import Clock
from sync_core.alert_detail import AlertDetail, alert_detail
from sync_core.alert_outbox import REDRAWS, OutboxKind
from sync_core.map.model import IntegrationMap, format_duration
from sync_core.ports import UnitOfWorkFactory

log = structlog.get_logger("handoff.slack.alerts")

LEASE = timedelta(minutes=5)  # far above a pass: a sender that died lets go within it
ALERTS_PER_PASS = 20
FIRST_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(minutes=10)


class AlertSender:
    def __init__(
        self,
        client: WebClient,
        uow_factory: UnitOfWorkFactory,
        integration_map: IntegrationMap,
        clock: Clock,
        pacer: ChannelPacer,
        *,
        owner: str | None = None,
    ) -> None:
        self.client = client
        self.uow_factory = uow_factory
        self.map = integration_map
        self.clock = clock
        self.pacer = pacer
        self.owner = owner or f"sender-{uuid.uuid4().hex[:12]}"
        self._mentions: dict[str, str] = {}

    def send_due(self) -> int:
        """One pass: claim the due rows of a few alerts, send them; the Slack calls made."""
        now = self.clock.now()
        with self.uow_factory() as uow:
            claimed = uow.alert_outbox.claim(now, now + LEASE, self.owner, ALERTS_PER_PASS)
            by_alert: dict[int, list[tuple[int, str]]] = {}
            for row in claimed:
                by_alert.setdefault(row.alert_id, []).append((row.id, row.kind))
            uow.commit()
        calls = 0
        for alert_id, rows in by_alert.items():
            redraws = [i for i, kind in rows if kind in REDRAWS]
            escalations = [i for i, kind in rows if kind == OutboxKind.ESCALATE]
            if redraws:
                calls += self._send(alert_id, redraws, self._redraw)
            if escalations:
                calls += self._send(alert_id, escalations, self._escalate)
        return calls

    def drain(self, passes: int = 100) -> int:
        """Send until nothing is due (tests, and a graceful stop)."""
        total = 0
        for _ in range(passes):
            sent = self.send_due()
            if not sent:
                break
            total += sent
        return total

    def _send(self, alert_id: int, row_ids: Sequence[int], how: Any) -> int:
        with self.uow_factory() as uow:
            detail = alert_detail(uow, alert_id)
        if detail is None:
            self._finish(row_ids, None)
            return 0
        try:
            placed = how(detail)
        except (SlackApiError, OSError) as exc:
            self._put_back(row_ids, exc)
            return 1
        self._finish(row_ids, placed)
        return 1

    def _redraw(self, detail: AlertDetail) -> tuple[str, str] | None:
        body = alert_message(AlertView(detail))
        if detail.message_ts and detail.channel:
            self.pacer.wait(detail.channel)
            self.client.chat_update(channel=detail.channel, ts=detail.message_ts, **body)
            return None
        channel = detail.channel or self.map.alerts.channel
        self.pacer.wait(channel)
        answer = self.client.chat_postMessage(channel=channel, **body)
        # Slack answers with the channel's ID, which chat.update needs.
        return str(answer.get("channel") or channel), str(answer["ts"])

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

    def _finish(self, row_ids: Sequence[int], placed: tuple[str, str] | None) -> None:
        """Mark the rows sent and, for a post, keep where the message is: one transaction,
        so no sender can see the rows done and the message missing."""
        now = self.clock.now()
        with self.uow_factory() as uow:
            rows = uow.alert_outbox.by_ids(row_ids)
            for row in rows:
                row.sent_at, row.lease_until, row.lease_owner = now, None, None
            if placed is not None and rows:
                alert = uow.alerts.get(rows[0].alert_id)
                if alert is not None:
                    alert.channel, alert.message_ts = placed
            uow.commit()

    def _put_back(self, row_ids: Sequence[int], exc: Exception) -> None:
        """Slack refused: try again after its ``Retry-After``, or after a growing backoff."""
        now = self.clock.now()
        error = _error(exc)
        with self.uow_factory() as uow:
            rows = uow.alert_outbox.by_ids(row_ids)
            for row in rows:
                row.attempts += 1
                row.due_at = now + (retry_after(exc) or backoff(row.attempts))
                row.lease_until, row.lease_owner = None, None
                row.last_error = error
            uow.commit()
        attempts = max((r.attempts for r in rows), default=0)
        log.error("alert not sent to Slack; will try again", error=error, attempts=attempts)

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


def retry_after(exc: Exception) -> timedelta | None:
    """Slack's ``Retry-After`` header (seconds) on a rate-limited answer."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        seconds = int(str(value))
    except ValueError:
        return None
    return timedelta(seconds=max(seconds, 1))


def backoff(attempts: int) -> timedelta:
    return min(FIRST_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError) and exc.response is not None:
        return str(exc.response.get("error"))
    return f"{type(exc).__name__}: {exc}"
