"""Block Kit building blocks, kept within Slack's limits (3,000 characters per section text,
50 blocks per message, 75 characters per button label, 2,000 per button value).

Everything built from data (names, vendor messages, queries) goes through :func:`escape`:
Slack reads ``<…>`` as a mention or a link and ``&`` as an entity, so a customer named
``<!channel>`` would otherwise ping the whole channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.handlers.context import Actor

Block = dict[str, Any]
SECTION_LIMIT = 3000
MESSAGE_BLOCKS = 50
SURFACE_BLOCKS = 100  # modals and App Home
BUTTON_VALUE = 2000

STATUS_EMOJI = {
    "delivered": ":white_check_mark:",
    "pending": ":hourglass_flowing_sand:",
    "retrying": ":arrows_counterclockwise:",
    "dead": ":x:",
    "shadow": ":ghost:",
    "ignored": ":no_entry_sign:",
    "superseded": ":heavy_minus_sign:",
}


def escape(text: str) -> str:
    """Slack's three control characters, so names like "R&D <UK>" show as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slack's escaping undone: command text arrives as ``R&amp;D`` for ``R&D``."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def clip(text: str, limit: int = SECTION_LIMIT) -> str:
    """At most ``limit`` characters, never cutting a link (``<url|label>``) or an entity
    (``&amp;``) in half: a half link would show its raw URL, or swallow the rest."""
    if len(text) <= limit:
        return text
    cut = limit - 1
    opened = text.rfind("<", 0, cut)
    if opened > text.rfind(">", 0, cut):
        cut = opened
    amp = text.rfind("&", 0, cut)
    if amp >= 0 and ";" not in text[amp:cut]:
        cut = amp
    return text[:cut] + "…"


def link(url: str | None, label: str) -> str:
    """A link, or only the label when the URL could break out of Slack's ``<url|label>``."""
    if not url or any(c in url for c in "<>| \n\t") or not url.startswith(("http://", "https://")):
        return escape(label)
    return f"<{url}|{escape(label)}>"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


def who(actor: Actor) -> str:
    if actor.source == "slack" and actor.user_id.isalnum():
        return f"<@{actor.user_id}>"
    return escape(actor.label)


def status(value: str) -> str:
    return f"{STATUS_EMOJI.get(value, '')} {value}".strip()


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, 150)}}


def section(text: str, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def fields(*texts: str) -> Block:
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": clip(t, 2000)} for t in texts[:10]],
    }


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text)}]}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    if len(value) > BUTTON_VALUE:
        # Slack refuses the whole message; a caller must make its value fit.
        raise ValueError(f"button value of {len(value)} characters (Slack takes {BUTTON_VALUE})")
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, 75)},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def actions(*buttons: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(buttons)}
    if block_id:
        block["block_id"] = block_id
    return block


def message(text: str, blocks: list[Block], limit: int = MESSAGE_BLOCKS) -> dict[str, Any]:
    """``text`` is the notification and screen-reader fallback."""
    if len(blocks) > limit:
        blocks = [*blocks[: limit - 1], context(f"…and {len(blocks) - limit + 1} more lines")]
    return {"text": clip(text), "blocks": blocks}
