"""The App Home tab."""

from __future__ import annotations

from typing import Any

from bot.handlers.alerts import AlertView
from bot.handlers.home import HomeView
from bot.views.alert import alert_message
from bot.views.blocks import SURFACE_BLOCKS, Block, context, divider, escape, header, section
from bot.views.rollout import flow_line, phase_line


def home_view(view: HomeView) -> dict[str, Any]:
    blocks: list[Block] = [
        header(f"Handoff · {view.map_name}"),
        context(escape("The map's picture and summary: type /map (current, target or both).")),
        section("*Phases*"),
    ]
    blocks += [section(phase_line(p)) for p in view.phases]
    blocks += [divider(), section("*Flows*")]
    blocks += [section(flow_line(f)) for f in view.flows]
    blocks += [divider(), section(f"*Open alerts* ({view.open_alerts})")]
    if not view.alerts:
        blocks.append(context("Nothing is failing. :tada:"))
    for detail in view.alerts:
        blocks += alert_message(AlertView(detail))["blocks"]
    if len(blocks) > SURFACE_BLOCKS:
        blocks = [*blocks[: SURFACE_BLOCKS - 1], context(escape("…more in the alert channel"))]
    return {"type": "home", "blocks": blocks}
