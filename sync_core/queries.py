"""Read models for people: where a customer is, what happened to it, how the rollout stands.

Handlers (CLI, Slack, console) call these and render the returned data; nothing here formats.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sync_core.map.model import IntegrationMap
from sync_core.naming import fragments
from sync_core.ports import UnitOfWork
from sync_core.store.models import EntityRow, EventRow, EventStatus, LinkRow

ACTIVE_STATUSES = (EventStatus.PENDING.value, EventStatus.RETRYING.value)


@dataclass(frozen=True)
class RecordLink:
    system: str
    record_type: str
    external_id: str
    url: str | None
    display_name: str | None

    @classmethod
    def of(cls, link: LinkRow) -> RecordLink:
        return cls(link.system, link.record_type, link.external_id, link.url, link.display_name)


@dataclass(frozen=True)
class EventSummary:
    id: int
    flow: str
    canonical_id: str
    source: str
    target: str
    status: str
    mode: str
    attempts: int
    at: datetime
    next_attempt_at: datetime | None
    error_kind: str | None
    error_message: str | None
    payload: dict[str, Any]
    display_name: str = ""  # the customer's name, beside the canonical ID (when known)

    @classmethod
    def of(cls, row: EventRow, display_name: str = "") -> EventSummary:
        return cls(
            id=row.id,
            flow=row.flow,
            canonical_id=row.canonical_id,
            source=row.source,
            target=row.target,
            status=row.status,
            mode=row.mode,
            attempts=row.attempts,
            at=row.updated_at,
            next_attempt_at=row.next_attempt_at,
            error_kind=row.last_error_kind,
            error_message=row.last_error_message,
            payload=dict(row.payload),
            display_name=display_name,
        )


@dataclass(frozen=True)
class CustomerView:
    canonical_id: str
    entity: str
    display_name: str
    source_of_truth: list[str]
    records: list[RecordLink]
    latest_events: list[EventSummary]
    missing_in: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for event in data["latest_events"]:
            event["at"] = event["at"].isoformat()
            if event["next_attempt_at"] is not None:
                event["next_attempt_at"] = event["next_attempt_at"].isoformat()
        return data


@dataclass(frozen=True)
class WhereResult:
    query: str
    matches: list[CustomerView]
    suggestions: list[str] = field(default_factory=list)
    total: int = 0  # how many match, when more than ``matches`` shows
    more: bool = False  # at least ``total`` match: counting stopped there


def source_of_truth_lines(integration_map: IntegrationMap, entity: str) -> list[str]:
    spec = integration_map.entities.get(entity)
    if spec is None:
        return []
    lines = []
    for owner in spec.source_of_truth:
        text = str(owner.system)
        if owner.fields:
            text += f" owns {', '.join(owner.fields)}"
        if owner.until:
            text += f" until {owner.until}"
        if owner.when:
            text += f" while {owner.when}"
        lines.append(text)
    return lines


def customer_view(
    uow: UnitOfWork, integration_map: IntegrationMap, canonical_id: str
) -> CustomerView | None:
    row = uow.entities.get(canonical_id)
    if row is None:
        return None
    return customer_views(uow, integration_map, [row])[0]


def customer_views(
    uow: UnitOfWork, integration_map: IntegrationMap, rows: Sequence[EntityRow]
) -> list[CustomerView]:
    """The view of each entity, fetched together: three queries however many entities."""
    ids = [row.canonical_id for row in rows]
    links: dict[str, list[RecordLink]] = {cid: [] for cid in ids}
    for link in uow.links.for_entities(ids):
        links[link.canonical_id].append(RecordLink.of(link))
    events = _latest_events(uow, ids)
    views = []
    for row in rows:
        records = links[row.canonical_id]
        spec = integration_map.entities.get(row.entity)
        present = {f"{r.system}.{r.record_type}" for r in records}
        missing = (
            [str(ref) for ref in spec.record_refs() if str(ref) not in present] if spec else []
        )
        views.append(
            CustomerView(
                canonical_id=row.canonical_id,
                entity=row.entity,
                display_name=row.display_name,
                source_of_truth=source_of_truth_lines(integration_map, row.entity),
                records=records,
                latest_events=[EventSummary.of(e) for e in events[row.canonical_id]],
                missing_in=missing,
            )
        )
    return views


def _latest_events(uow: UnitOfWork, canonical_ids: Sequence[str]) -> dict[str, list[EventRow]]:
    """Per entity, the newest event per flow that touched it as source or else as target."""
    latest: dict[str, dict[str, EventRow]] = {cid: {} for cid in canonical_ids}
    for row in uow.events.latest_per_flow_of(canonical_ids):
        latest[row.canonical_id][row.flow] = row
    for row in uow.events.latest_per_flow_of(canonical_ids, as_target=True):
        latest[row.target_canonical_id].setdefault(row.flow, row)
    return {cid: [flows[f] for f in sorted(flows)] for cid, flows in latest.items()}


def where(
    uow: UnitOfWork, integration_map: IntegrationMap, query: str, limit: int = 10
) -> WhereResult:
    """Customers whose canonical ID or name contains ``query`` (case-insensitive).

    When more match than ``limit``, the pick list holds the first found (by name), and the
    total is counted up to :data:`COUNT_CAP` (a common word at a million customers matches
    tens of thousands, which nobody scrolls: they narrow the query)."""
    # one row more than shown tells whether counting them all is needed at all
    found = uow.entities.search(query, limit + 1)
    rows = found[:limit]
    matches = customer_views(uow, integration_map, rows)
    suggestions: list[str] = []
    if not matches:
        suggestions = suggest(uow, query)
    total, more = len(matches), False
    if len(found) > limit:
        total = uow.entities.count_matches(query, cap=COUNT_CAP + 1)
        total, more = min(total, COUNT_CAP), total > COUNT_CAP
    return WhereResult(
        query=query, matches=matches, suggestions=suggestions, total=total, more=more
    )


COUNT_CAP = 1000  # a pick list's total is counted this far ("8 of 1,000+ customers")


# Suggestions for a miss stay cheap however long the query or common its words: the query is
# cut, only its most telling words are looked up, for a bounded number of names, through the
# name search index (each word by its halves, so that a typo in one half still finds it).
SUGGEST_QUERY_CHARS = 64
SUGGEST_WORDS = 2
SUGGEST_CANDIDATES = 100
# Words that half the customers share ("Acme Ltd", "Globex Group") tell nothing apart.
COMMON_WORDS = frozenset(
    {"ltd", "limited", "llc", "inc", "corp", "co", "plc", "gmbh", "ag", "sa", "bv", "the", "and"}
    | {"of", "group", "holdings", "company"}
)


def suggest(uow: UnitOfWork, query: str, limit: int = 5) -> list[str]:
    """Close names for a query that matched nothing (typos: "acmee", "globx labz").

    Candidates are names holding a piece of every telling word, else of any of them (at most
    two queries), in no particular order; the closest of them to the query are suggested."""
    text = " ".join(query.lower().split())[:SUGGEST_QUERY_CHARS]
    words = {w for w in text.split() if len(w) >= 2 and w not in COMMON_WORDS}
    telling = sorted(words, key=lambda w: (-len(w), w))[:SUGGEST_WORDS] or [text]
    groups = [fragments(word) for word in telling]
    rows = uow.entities.named_with(groups, SUGGEST_CANDIDATES, by_name=False)
    if not rows and len(groups) > 1:
        every = [piece for group in groups for piece in group]
        rows = uow.entities.named_with([every], SUGGEST_CANDIDATES, by_name=False)
    candidates = {row.display_name.lower(): row.display_name for row in rows}
    close = difflib.get_close_matches(text, list(candidates), n=limit, cutoff=0.4)
    return [candidates[name] for name in close]


@dataclass(frozen=True)
class AuditQuery:
    query: str | None = None
    system: str | None = None
    status: str | None = None
    since: timedelta | None = None
    before_id: int | None = None
    limit: int = 20


def audit(
    uow: UnitOfWork, integration_map: IntegrationMap, q: AuditQuery, now: datetime
) -> list[EventSummary]:
    """Event history newest first; a query narrows it to matching customers."""
    canonical_ids: list[str] | None = None
    if q.query:
        canonical_ids = [row.canonical_id for row in uow.entities.search(q.query, 50)]
        if not canonical_ids:
            return []
    rows = uow.events.history(
        canonical_ids=canonical_ids,
        system=q.system,
        status=q.status,
        since=now - q.since if q.since else None,
        before_id=q.before_id,
        limit=q.limit,
        targets=True,
    )
    names = display_names(uow, {row.canonical_id for row in rows})
    return [EventSummary.of(row, names.get(row.canonical_id, "")) for row in rows]


def display_names(uow: UnitOfWork, canonical_ids: set[str]) -> dict[str, str]:
    """canonical ID → the customer's display name, for the IDs the store knows a name for."""
    names = {}
    for canonical_id in canonical_ids:
        entity = uow.entities.get(canonical_id) if canonical_id else None
        if entity is not None and entity.display_name:
            names[canonical_id] = entity.display_name
    return names


@dataclass(frozen=True)
class AttemptView:
    number: int
    at: datetime
    outcome: str
    http_status: int | None
    duration_ms: float | None
    waited_ms: float | None
    error_kind: str | None
    error_message: str | None
    exchange_ids: list[str]


@dataclass(frozen=True)
class ActionView:
    at: datetime
    actor: str
    action: str
    reason: str | None


@dataclass(frozen=True)
class EventDetail:
    """One event with every attempt (and the HTTP exchanges each made) and the hands on it."""

    event: EventSummary
    attempts: list[AttemptView]
    actions: list[ActionView]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def event_detail(uow: UnitOfWork, event_id: int) -> EventDetail | None:
    row = uow.events.get(event_id)
    if row is None:
        return None
    attempts = [
        AttemptView(
            number=a.number,
            at=a.at,
            outcome=a.outcome,
            http_status=a.http_status,
            duration_ms=a.duration_ms,
            waited_ms=a.waited_ms,
            error_kind=a.error_kind,
            error_message=a.error_message,
            exchange_ids=[x for x in (a.exchange_id or "").split(",") if x],
        )
        for a in uow.attempts.for_event(event_id)
    ]
    actions = [
        ActionView(at=a.at, actor=a.actor, action=a.action, reason=a.reason)
        for a in reversed(uow.actions.recent(subject=f"event:{event_id}", limit=100))
    ]
    return EventDetail(EventSummary.of(row), attempts, actions)
