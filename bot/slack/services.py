"""What every listener needs: the handler context, and who the Slack user is."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.handlers.context import Actor, HandlerContext
from bot.slack.work import ListenerWork
from sync_core.alert_outbox import OutboxSink

log = structlog.get_logger("handoff.slack")

GROUP_CACHE = timedelta(minutes=5)


@dataclass
class SlackServices:
    context: HandlerContext
    work: ListenerWork = field(default_factory=ListenerWork)
    _groups: dict[str, tuple[Any, tuple[str, ...]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def alert_channel(self) -> str:
        return self.context.map.alerts.channel

    def redraw(self, alert_id: int) -> None:
        """Have the alert's message redrawn: a row for the one sender, not a Web API call."""
        OutboxSink(self.context.uow_factory, self.context.clock).redraw(alert_id)

    def for_user(self, user_id: str, client: WebClient) -> HandlerContext:
        return self.context.as_actor(
            Actor(user_id=user_id), lambda user: self.groups_of(user, client)
        )

    def groups_of(self, user_id: str, client: WebClient) -> tuple[str, ...]:
        """Handles of the map's admin and operator user groups (``@ops-leads``) this user is in.

        Resolved with ``usergroups.list`` only when the map names a group and the user is not
        an admin by ID; a workspace without the scope (or groups) grants nothing.
        """
        named = [*self.context.map.admins, *self.context.map.alerts.operators]
        wanted = {a.lstrip("@") for a in named if a.startswith("@")}
        if not wanted or user_id in self.context.map.admins:
            return ()
        now = self.context.clock.now()
        with self._lock:
            cached = self._groups.get(user_id)
            if cached is not None and now - cached[0] < GROUP_CACHE:
                return cached[1]
        try:
            answer = client.usergroups_list(include_users=True)
        except SlackApiError as exc:
            log.warning("user groups not resolvable", error=exc.response.get("error"))
            return ()
        groups = tuple(
            group["handle"]
            for group in answer.get("usergroups") or []
            if group.get("handle") in wanted and user_id in (group.get("users") or [])
        )
        with self._lock:
            self._groups[user_id] = (now, groups)
        return groups


def user_of(body: dict[str, Any]) -> str:
    """The Slack user ID in a slash command, an interaction or an event."""
    if "user_id" in body:
        return str(body["user_id"])
    user = body.get("user") or body.get("event", {}).get("user")
    if isinstance(user, dict):
        return str(user.get("id"))
    return str(user)
