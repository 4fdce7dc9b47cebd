"""The slash commands, by name: what Slack and the console dispatch to, and ``/handoff help``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.handlers.audit import audit_command
from bot.handlers.context import HandlerContext
from bot.handlers.map_picture import map_command
from bot.handlers.match import match_command
from bot.handlers.phase import phase_command
from bot.handlers.results import Notice
from bot.handlers.sync import sync_command
from bot.handlers.where import where_command

Handler = Callable[[HandlerContext, str], Any]


@dataclass(frozen=True)
class HelpView:
    lines: list[str]


def help_command(ctx: HandlerContext, text: str) -> HelpView | Notice:
    """`/handoff help` — this list."""
    if text.strip() not in ("", "help"):
        return Notice(f"Unknown `/handoff {text.strip()}`. Try `/handoff help`.", ok=False)
    return HelpView([help_line(handler) for handler in COMMANDS.values()])


def help_line(handler: Handler) -> str:
    doc = inspect.getdoc(handler) or ""
    return " ".join(doc.split("\n\n")[0].split())


COMMANDS: dict[str, Handler] = {
    "/where": where_command,
    "/audit": audit_command,
    "/phase": phase_command,
    "/sync": sync_command,
    "/match": match_command,
    "/map": map_command,
    "/handoff": help_command,
}


def run_command(ctx: HandlerContext, command: str, text: str) -> Any:
    handler = COMMANDS.get(command)
    if handler is None:
        return Notice(f"Unknown command {command}. Try `/handoff help`.", ok=False)
    return handler(ctx, text)
