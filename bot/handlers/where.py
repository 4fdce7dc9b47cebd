"""``/where``: a customer across every system, and its buttons (History, Retry failed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.handlers.context import HandlerContext
from sync_core.queries import CustomerView, where

PICK_LIMIT = 8


@dataclass(frozen=True)
class WhereView:
    query: str
    matches: list[CustomerView]
    suggestions: list[str] = field(default_factory=list)

    @property
    def pick_list(self) -> bool:
        return len(self.matches) > 1


def where_command(ctx: HandlerContext, text: str) -> WhereView:
    """`/where QUERY` — a customer in every system: canonical ID, source of truth, links,
    the latest event per flow."""
    query = text.strip()
    if not query:
        return WhereView(query="", matches=[])
    with ctx.uow_factory() as uow:
        result = where(uow, ctx.map, query, limit=PICK_LIMIT)
    return WhereView(query=query, matches=result.matches, suggestions=result.suggestions)
