"""``/audit``: the event history newest first, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from bot.handlers.context import HandlerContext
from sync_core.map.model import IntegrationMap, parse_duration
from sync_core.queries import AuditQuery, EventSummary, audit
from sync_core.store.models import EventStatus

PAGE = 10
STATUSES = {s.value for s in EventStatus}


@dataclass(frozen=True)
class AuditView:
    query: AuditQuery
    events: list[EventSummary]
    more: AuditQuery | None  # the next page, when there is one

    @property
    def title(self) -> str:
        parts = [self.query.query or "all customers"]
        if self.query.system:
            parts.append(f"system {self.query.system}")
        if self.query.status:
            parts.append(f"status {self.query.status}")
        if self.query.since:
            parts.append(f"last {_duration(self.query.since)}")
        return " · ".join(parts)


def _duration(value: timedelta) -> str:
    from sync_core.map.model import format_duration

    return format_duration(value)


def parse_audit(integration_map: IntegrationMap, text: str) -> AuditQuery:
    """``QUERY [system] [status] [since]``: words naming a system, a status or a duration
    (``7d``) filter; the other words are the customer query."""
    words: list[str] = []
    system = status = None
    since: timedelta | None = None
    for word in text.split():
        lowered = word.lower()
        if lowered in integration_map.systems and system is None:
            system = lowered
        elif lowered in STATUSES and status is None:
            status = lowered
        elif since is None and _is_duration(lowered):
            since = parse_duration(lowered)
        else:
            words.append(word)
    return AuditQuery(
        query=" ".join(words) or None, system=system, status=status, since=since, limit=PAGE
    )


def _is_duration(word: str) -> bool:
    try:
        parse_duration(word)
    except ValueError:
        return False
    return not word.isdigit()


def audit_page(ctx: HandlerContext, q: AuditQuery) -> AuditView:
    with ctx.uow_factory() as uow:
        # One more than a page tells whether a More button is needed.
        rows = audit(uow, ctx.map, replace(q, limit=q.limit + 1), ctx.clock.now())
    events = rows[: q.limit]
    more = replace(q, before_id=events[-1].id) if len(rows) > q.limit and events else None
    return AuditView(query=q, events=events, more=more)


def audit_command(ctx: HandlerContext, text: str) -> AuditView:
    """`/audit QUERY [system] [status] [since]` — the event history, newest first
    (e.g. `/audit acme xero dead 7d`)."""
    return audit_page(ctx, parse_audit(ctx.map, text))


def history(ctx: HandlerContext, canonical_id: str) -> AuditView:
    return audit_page(ctx, AuditQuery(query=canonical_id, limit=PAGE))
