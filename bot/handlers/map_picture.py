"""``/map``: the map's picture and a short summary of what it says."""

from __future__ import annotations

from dataclasses import dataclass

from bot.handlers.context import HandlerContext
from bot.handlers.results import Notice
from bot.map_render import Format, render
from sync_core.map.document import ArrowKind, MapDocument, View, build_document
from sync_core.map.model import PhaseState


@dataclass(frozen=True)
class MapPicture:
    title: str
    summary: str
    filename: str
    png: bytes


def map_command(ctx: HandlerContext, text: str) -> MapPicture | Notice:
    """`/map [current|target|both]` — the map's picture and a short summary, sent to you."""
    words = text.split()
    choice = words[0].lower() if words else View.BOTH.value
    if len(words) > 1 or choice not in {view.value for view in View}:
        return Notice("Usage: `/map [current|target|both]`.", ok=False)
    view = View(choice)
    document = build_document(ctx.map)
    return MapPicture(
        title=f"{document.name} ({view.value} state)" if view is not View.BOTH else document.name,
        summary=summary(document),
        filename=f"handoff-map-{view.value}.png",
        png=render(document, Format.PNG, view),
    )


def summary(document: MapDocument) -> str:
    """A few lines: what the map holds and how far the rollout is."""
    states = {state: 0 for state in (PhaseState.LIVE, PhaseState.PARALLEL, PhaseState.PLANNED)}
    for flow in document.flows:
        states[flow.state] += 1
    flows = ", ".join(f"{count} {state.value}" for state, count in states.items() if count)
    by_hand = sum(1 for a in document.arrows[View.CURRENT] if a.kind is ArrowKind.MANUAL)
    minted = "; ".join(f"{e.name}: {e.id_format} from {e.minted_by}" for e in document.entities)
    lines = [
        f"{document.name}: {len(document.systems)} systems "
        f"({', '.join(s.name for s in document.systems)}), {len(document.flows)} flows "
        f"({flows or 'none'}), {len(document.phases)} phases.",
        f"Canonical IDs: {minted or 'none declared'}.",
        f"Copied by hand today: {by_hand} step(s) not yet replaced by a live flow.",
    ]
    if warning := document.two_way_warning(View.TARGET):
        lines.append(f"Warning: {warning}.")
    lines.append("The whole document: handoff map render MAP --format md")
    return "\n".join(lines)
