"""Block Kit to terminal text: sections and context as lines, buttons numbered."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.render import strip_control
from bot.views.blocks import unescape

LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
USER = re.compile(r"<@([A-Z0-9]+)>")
SPECIAL = re.compile(r"<!([a-z]+)>")
EMOJI = {
    ":white_check_mark:": "✔",
    ":x:": "✖",
    ":rotating_light:": "!!",
    ":hourglass_flowing_sand:": "…",
    ":arrows_counterclockwise:": "↻",
    ":arrows_clockwise:": "↻",
    ":no_entry_sign:": "⊘",
    ":no_entry:": "⊘",
    ":warning:": "!",
    ":ghost:": "~",
    ":eyes:": "👀",
    ":large_green_circle:": "●",
    ":large_yellow_circle:": "◐",
    ":white_circle:": "○",
    ":double_vertical_bar:": "‖",
    ":heavy_minus_sign:": "-",
    ":tada:": "",
}


def plain(mrkdwn: str) -> str:
    text = LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", mrkdwn)
    text = USER.sub(lambda m: f"@{m.group(1)}", text)
    text = SPECIAL.sub(lambda m: f"@{m.group(1)}", text)
    for code, symbol in EMOJI.items():
        text = text.replace(code, symbol)
    text = text.replace("*", "").replace("`", "")
    # Decoded last, and control characters dropped: data never drives the terminal.
    return strip_control(unescape(text))


def render_blocks(
    blocks: list[dict[str, Any]], number: Callable[[dict[str, Any]], int]
) -> list[str]:
    """Lines for ``blocks``; ``number`` registers a button and returns its number."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"== {block['text']['text']} ==")
        elif kind == "section":
            if "text" in block:
                lines.extend(plain(block["text"]["text"]).splitlines())
            for item in block.get("fields", []):
                lines.extend(plain(item["text"]).splitlines())
            if block.get("accessory", {}).get("type") == "button":
                lines[-1] += f"  {_button(block['accessory'], number)}"
        elif kind == "context":
            for element in block.get("elements", []):
                lines.extend("  " + line for line in plain(element.get("text", "")).splitlines())
        elif kind == "actions":
            buttons = [_button(e, number) for e in block["elements"] if e["type"] == "button"]
            lines.append("  " + "  ".join(buttons))
        elif kind == "divider":
            lines.append("-" * 40)
    return lines


def _button(element: dict[str, Any], number: Callable[[dict[str, Any]], int]) -> str:
    return f"[{number(element)}] {element['text']['text']}"
