"""The probable-duplicate alert: a record typed by hand after cutover that matches a known
customer, with Link, Merge (where the vendor merges records) and Not a duplicate while it is
open."""

from __future__ import annotations

import re
from typing import Any

from bot.views import ids
from bot.views.blocks import Block, actions, button, context, escape, message, section
from sync_core.alert_detail import AlertDetail

TITLE = {
    "open": ":busts_in_silhouette: Probable duplicate",
    "acknowledged": ":busts_in_silhouette: Probable duplicate",
    "resolved": ":white_check_mark: Duplicate linked",
    "ignored": ":heavy_minus_sign: Not a duplicate",
}
MERGED_TITLE = ":white_check_mark: Duplicate merged"
# button -> decision of ``bot.handlers.duplicates.settle_duplicate``, in Slack and the console
DECISION_OF = {
    ids.DUPLICATE_LINK: "link",
    ids.DUPLICATE_MERGE: "merge",
    ids.DUPLICATE_DISMISS: "not_duplicate",
}


def duplicate_message(
    d: AlertDetail, record: str | None = None, *, merge: bool = False
) -> dict[str, Any]:
    """``record`` names the typed record's type (``xero.contact``) for the advice; ``merge``:
    its vendor merges records and the customer has its own to merge it into, so Merge is
    offered; otherwise the advice is to archive an extra copy there."""
    title = TITLE.get(d.state, d.state)
    if d.state == "resolved" and d.summary.rpartition("\n")[2].startswith("Merged into"):
        title = MERGED_TITLE
    text = escape(d.summary)
    if d.state not in ("open", "acknowledged") and "\n" in text:
        said, _, outcome = text.rpartition("\n")  # only the settling line Handoff wrote
        text = f"{said}\n{_with_mentions(outcome)}"
    blocks: list[Block] = [section(f"*{title}*\n{text}")]
    if d.state in ("open", "acknowledged"):
        where = escape(record or "its system")
        link = "*Link* makes it the same customer (Handoff stamps the canonical ID into it). "
        if merge:
            advice = (
                f"*Merge* folds it into the customer's own {where} in "
                f"{where.partition('.')[0]} (that one's values win) and removes it. "
            )
        else:
            advice = (
                f"{where} has no merge: if it is an extra copy after linking, archive it in "
                f"{where.partition('.')[0]}. "
            )
        blocks.append(context(f"{link}{advice}*Not a duplicate* keeps it apart for good."))
        buttons = [button("Link", ids.DUPLICATE_LINK, str(d.id), "primary")]
        if merge:
            buttons.append(button("Merge", ids.DUPLICATE_MERGE, str(d.id)))
        buttons.append(button("Not a duplicate", ids.DUPLICATE_DISMISS, str(d.id)))
        blocks.append(actions(*buttons, block_id=f"duplicate-{d.id}"))
    return message(f"{title}: {escape(d.summary.splitlines()[0])}", blocks)


def _with_mentions(text: str) -> str:
    """The settling admin's mention (``<@U0ADMIN1>``, added by Handoff) stays a mention."""
    return re.sub(r"&lt;@([UW][A-Z0-9]+)&gt;", r"<@\1>", text)
