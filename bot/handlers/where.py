"""``/where``: a customer across every system, and its buttons (History, Retry failed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.handlers.context import HandlerContext
from bot.handlers.results import Notice
from sync_core.queries import CustomerView, where

PICK_LIMIT = 8
MAX_QUERY = 200


@dataclass(frozen=True)
class WhereView:
    query: str
    matches: list[CustomerView]
    suggestions: list[str] = field(default_factory=list)
    total: int = 0
    more: bool = False  # at least ``total`` match

    @property
    def pick_list(self) -> bool:
        return len(self.matches) > 1


def where_command(ctx: HandlerContext, text: str) -> WhereView | Notice:
    """`/where QUERY` — a customer in every system: canonical ID, source of truth, links,
    the latest event per flow."""
    query = text.strip()
    if not query:
        return WhereView(query="", matches=[])
    if (refused := query_too_long(query)) is not None:
        return Notice(refused, ok=False)
    with ctx.uow_factory() as uow:
        result = where(uow, ctx.map, query, limit=PICK_LIMIT)
    return WhereView(
        query=query,
        matches=result.matches,
        suggestions=result.suggestions,
        total=max(result.total, len(result.matches)),
        more=result.more,
    )


def query_too_long(query: str) -> str | None:
    """A name or ID is short; a huge query would only make the suggestions slow."""
    if len(query) <= MAX_QUERY:
        return None
    return f"A query is at most {MAX_QUERY} characters (this one has {len(query):,})."
