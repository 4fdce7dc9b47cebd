"""The failure alert message in the watched channel, its escalation and its Ignore modal."""

from __future__ import annotations

import json
from typing import Any

from bot.handlers.alerts import AlertView, Outcome
from bot.handlers.context import Actor
from bot.views import ids
from bot.views.blocks import Block, actions, button, context, escape, link, message, section, who
from bot.views.duplicate import duplicate_message
from sync_core.alert_detail import AlertDetail
from sync_core.golive_alert import GOLIVE_KEY
from sync_core.matching.hand_typed import offers_merge, proposal_of, typed_in
from sync_core.queries import EventSummary

STATE_TITLE = {
    "open": ":rotating_light: Sync failure",
    "acknowledged": ":eyes: Sync failure (acknowledged)",
    "resolved": ":white_check_mark: Recovered",
    "ignored": ":no_entry_sign: Ignored",
}


GOLIVE_TITLE = {
    "open": ":hourglass_flowing_sand: Phase held at its first start",
    "acknowledged": ":hourglass_flowing_sand: Phase held at its first start (acknowledged)",
    "resolved": ":white_check_mark: Phase no longer held",
    "ignored": ":no_entry_sign: Ignored",
}


def alert_message(view: AlertView) -> dict[str, Any]:
    d = view.detail
    if proposal_of(d.group_key) is not None:
        return duplicate_message(d, typed_in(d.group_key), merge=offers_merge(d.group_key))
    if d.group_key.startswith(GOLIVE_KEY):
        return golive_message(d)
    title = STATE_TITLE.get(d.state, d.state)
    blocks: list[Block] = []
    if d.grouped:
        blocks.append(
            section(
                f"*{title}: {d.count} events to {escape(d.target_system)} failed with "
                f"{escape(d.error_kind)}*\n{escape(d.summary)}"
            )
        )
        if d.latest is not None:
            blocks.append(context(f"Latest reason: {_reason(d.latest)}"))
        blocks.append(context(_event_list(d)))
    elif d.events:
        e = d.latest or d.events[0]
        blocks.append(
            section(
                f"*{title}: {escape(e.flow)}*\n"
                f"Record `{escape(e.canonical_id)}` ({escape(e.source)}) → *{escape(e.target)}*\n"
                f"*Why:* {_reason(e)}\n"
                f"*Attempts:* {e.attempts}"
            )
        )
        if d.event_count > 1:
            blocks.append(context(_event_list(d)))
    else:
        blocks.append(section(f"*{title}*\n{escape(d.summary)}"))
        if d.state in ("open", "acknowledged"):
            blocks.append(context(f"Next: {next_step(d.group_key, [])}"))
    if d.links:
        blocks.append(
            context(" · ".join(link(r.url, f"{r.system}.{r.record_type}") for r in d.links))
        )
    outcome = shown_outcome(view)
    if outcome is not None:
        blocks.append(section(_outcome_text(outcome)))
    if d.state in ("open", "acknowledged"):
        retry = (
            button(f"Retry all ({d.event_count})", ids.ALERT_RETRY_ALL, str(d.id), "primary")
            if d.grouped
            else button("Retry", ids.ALERT_RETRY, str(d.id), "primary")
        )
        ignore = button("Ignore", ids.ALERT_IGNORE, str(d.id))
        # A source that cannot be read has no event to retry; the next poll tries again.
        buttons = [retry, ignore] if d.events else [ignore]
        if d.events:
            buttons.append(button("History", ids.ALERT_HISTORY, str(d.id)))
        blocks.append(actions(*buttons, block_id=f"alert-{d.id}"))
    elif d.state == "resolved" and (outcome is None or outcome.kind != "delivered"):
        blocks.append(context("Every event of this alert has been delivered since."))
    return message(f"{title}: {escape(d.summary)}", blocks)


def golive_message(d: AlertDetail) -> dict[str, Any]:
    """A phase declared live that its first start held back: what holds it while open; once
    resolved, what ended it (a promotion, the review done, its targets read again)."""
    title = GOLIVE_TITLE.get(d.state, d.state)
    said, _, ended = d.summary.rpartition("\n")
    if d.state == "resolved" and said:
        blocks: list[Block] = [section(f"*{title}*\n{escape(ended)}"), context(escape(said))]
    else:
        blocks = [section(f"*{title}*\n{escape(d.summary)}")]
    if d.state in ("open", "acknowledged"):
        blocks.append(
            actions(button("Ignore", ids.ALERT_IGNORE, str(d.id)), block_id=f"alert-{d.id}")
        )
    return message(f"{title}: {escape(d.summary)}", blocks)


def _reason(e: EventSummary) -> str:
    return f"{escape(e.error_kind or 'error')}: {escape(e.error_message or '')}"


def next_step(group_key: str, event_ids: tuple[int, ...] | list[int]) -> str:
    """The command that helps with an alert: a retry for events that died; for a source that
    could not be read (no event to retry), what its error kind calls for."""
    if event_ids:
        first = event_ids[0]
        more = " (or `handoff retry --dead` for all)" if len(event_ids) > 1 else ""
        return f"`handoff retry {first}` requeues it{more}"
    if group_key.startswith("conflict"):
        return "nothing to retry: if the lost value should stand, enter it again where it was lost"
    scope, _, kind = group_key.rpartition(":")
    if not scope.startswith("poll:"):
        return "nothing to retry"
    source = scope[len("poll:") :]
    system = source.partition(".")[0]
    read_now = f"`handoff sync --once` (or `/sync run FLOW` for a flow from {source})"
    if kind == "auth_expired":
        return (
            f"{system} refused the credential: renew the map's auth for {system}, then {read_now}"
        )
    if kind == "config":
        return f"fix the map or the credential for {system} as the message says, then {read_now}"
    if kind in ("transient", "rate_limited"):
        return f"the next poll reads {source} again by itself; to read it now: {read_now}"
    return f"a retry will not fix this: see the message and the HTTP log; once fixed, {read_now}"


def _event_list(d: AlertDetail) -> str:
    shown = ", ".join(f"`{escape(e.canonical_id)}`" for e in d.events)
    more = d.event_count - len(d.events)
    return f"Records: {shown}" + (f" and {more} more" if more > 0 else "")


def shown_outcome(view: AlertView) -> Outcome | None:
    """The click just made, or else the last one recorded: a later redraw (the alert grew,
    recovered) keeps saying who did what."""
    if view.outcome is not None:
        return view.outcome
    stored = view.detail.outcome
    if stored is None:
        return None
    source, _, user = stored.actor.partition(":")
    actor = Actor(user_id=user, source=source) if user else Actor(user_id=source, source="")
    return Outcome(stored.kind, actor, stored.at, stored.text)


def _outcome_text(o: Outcome) -> str:
    at = o.at.strftime("%H:%M UTC")
    if o.kind == "delivered":
        return (
            f":white_check_mark: Delivered after Retry by {who(o.actor)} at {at}: "
            f"{escape(o.detail)}"
        )
    if o.kind == "failed":
        return f":x: Retried by {who(o.actor)} at {at}, failed again: {escape(o.detail)}"
    if o.kind == "ignored":
        return f":no_entry_sign: Ignored by {who(o.actor)} at {at}: {escape(o.detail)}"
    return f"{who(o.actor)} at {at}: {escape(o.detail)}"


def mention_text(mention: str | None) -> str:
    """A user ID or Slack's own syntax notifies; other text (``@ops-oncall``) shows as is."""
    if not mention:
        return "Someone"
    if mention in ("@here", "@channel"):
        return f"<!{mention[1:]}>"
    if mention.startswith("<") or (mention[:1] in "UW" and mention.isalnum() and mention.isupper()):
        return mention if mention.startswith("<") else f"<@{mention}>"
    return escape(mention)


def escalation_message(d: AlertDetail, mention: str | None, after: str) -> dict[str, Any]:
    text = (
        f"{mention_text(mention)}: this alert has been open for {after} without anyone "
        f"acknowledging it. {escape(d.summary)}"
    )
    return message(text, [section(text)])


def ignore_modal(alert_id: int, channel: str | None, ts: str | None) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": ids.IGNORE_MODAL,
        "private_metadata": json.dumps({"alert": alert_id, "channel": channel, "ts": ts}),
        "title": {"type": "plain_text", "text": "Ignore alert"},
        "submit": {"type": "plain_text", "text": "Ignore"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"The events of alert {alert_id} will not be delivered."),
            reason_input("Why ignore them?"),
        ],
    }


def reason_input(label: str) -> Block:
    return {
        "type": "input",
        "block_id": ids.REASON_BLOCK,
        "label": {"type": "plain_text", "text": label},
        "element": {
            "type": "plain_text_input",
            "action_id": ids.REASON_INPUT,
            "multiline": True,
            "min_length": 3,
        },
    }
