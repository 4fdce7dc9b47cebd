"""``/where`` and ``/audit`` answers."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from bot.handlers.audit import AuditView
from bot.handlers.where import WhereView
from bot.views import ids
from bot.views.blocks import (
    BUTTON_VALUE,
    Block,
    actions,
    button,
    context,
    divider,
    escape,
    link,
    message,
    section,
    status,
    when,
)
from sync_core.queries import AuditQuery, CustomerView, EventSummary


def where_message(view: WhereView) -> dict[str, Any]:
    if not view.query:
        return message("Usage: /where QUERY", [section("Usage: `/where QUERY` (a name or ID)")])
    if not view.matches:
        text = f"No customer matches “{escape(view.query)}”."
        if view.suggestions:
            text += " Did you mean: " + ", ".join(f"*{escape(s)}*" for s in view.suggestions) + "?"
        return message(text, [section(text)])
    if view.pick_list:
        return pick_list(view)
    return customer_message(view.matches[0])


def pick_list(view: WhereView) -> dict[str, Any]:
    count = _match_count(view)
    blocks: list[Block] = [section(f"{count} match “{escape(view.query)}”. Which one?")]
    for match in view.matches:
        blocks.append(
            section(
                f"*{escape(match.display_name)}*  `{escape(match.canonical_id)}` · "
                f"{escape(match.entity)}",
                button("Show", ids.WHERE_PICK, match.canonical_id),
            )
        )
    if view.total > len(view.matches):
        blocks.append(context("Narrow the query to see the others."))
    return message(f"{count} match {escape(view.query)}", blocks)


def _match_count(view: WhereView) -> str:
    """``8 of 300 customers`` when the list shows only the first few (``8 of 1,000+``
    when counting stopped)."""
    shown = len(view.matches)
    if view.more:
        return f"{shown} of {view.total:,}+ customers"
    if view.total > shown:
        return f"{shown} of {view.total} customers"
    return f"{shown} customers"


def customer_message(view: CustomerView) -> dict[str, Any]:
    blocks: list[Block] = [
        section(
            f"*{escape(view.display_name)}*  `{escape(view.canonical_id)}` · "
            f"{escape(view.entity)}\n"
            f"Source of truth: {escape('; '.join(view.source_of_truth) or 'not declared')}"
        )
    ]
    lines = [
        f"• *{escape(r.system)}.{escape(r.record_type)}*: "
        f"{link(r.url, r.display_name or r.external_id)}"
        f" (`{escape(r.external_id)}`)"
        for r in view.records
    ]
    lines += [f"• *{escape(missing)}*: not there yet" for missing in view.missing_in]
    blocks.append(section("\n".join(lines) or "No records linked yet."))
    if view.latest_events:
        blocks.append(section("\n".join(_event_line(e) for e in view.latest_events)))
    blocks.append(
        actions(
            button("History", ids.WHERE_HISTORY, view.canonical_id),
            button("Retry failed", ids.WHERE_RETRY, view.canonical_id, style="danger")
            if any(e.status in ("dead", "retrying") for e in view.latest_events)
            else button("Retry failed", ids.WHERE_RETRY, view.canonical_id),
        )
    )
    return message(f"{escape(view.display_name)} ({escape(view.canonical_id)})", blocks)


def _event_line(event: EventSummary) -> str:
    line = (
        f"{status(event.status)} *{escape(event.flow)}* → {escape(event.target)} · {when(event.at)}"
    )
    if event.error_kind and event.status in ("dead", "retrying"):
        line += f"\n      {escape(event.error_kind)}: {escape(event.error_message or '')}"
    return line


def audit_message(view: AuditView) -> dict[str, Any]:
    title = f"Audit: {escape(view.title)}"
    if not view.events:
        return message(f"{title}: no events match.", [section(f"*{title}*: no events match.")])
    blocks: list[Block] = [section(f"*{title}* (newest first)")]
    for e in view.events:
        text = (
            f"`{e.id}` {when(e.at)} {status(e.status)} *{escape(e.flow)}* "
            f"`{escape(e.canonical_id)}` {escape(e.source)} → {escape(e.target)} · "
            f"{e.attempts} attempt(s)"
        )
        if e.error_kind:
            text += f"\n      {escape(e.error_kind)}: {escape(e.error_message or '')}"
        blocks.append(context(text))
    if view.more is not None:
        blocks.append(divider())
        value = encode_query(view.more)
        if len(value) <= BUTTON_VALUE:
            blocks.append(actions(button("More", ids.AUDIT_MORE, value)))
        else:  # a query too long to carry in a button
            blocks.append(context("More match: narrow the query to see them."))
    return message(title, blocks)


def encode_query(q: AuditQuery) -> str:
    data = asdict(q)
    data["since"] = q.since.total_seconds() if q.since else None
    return json.dumps(data, separators=(",", ":"))


def decode_query(value: str) -> AuditQuery:
    from datetime import timedelta

    data = json.loads(value)
    since = data.pop("since", None)
    return AuditQuery(**data, since=timedelta(seconds=since) if since else None)
