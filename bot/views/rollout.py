"""``/phase`` and ``/sync`` answers, the phase confirmation modal and its announcement."""

from __future__ import annotations

import json
from typing import Any

from bot.handlers.phase import PhaseChanged, PhaseConfirm, PhaseStatusView
from bot.handlers.sync import SyncStatusView
from bot.views import ids
from bot.views.alert import reason_input
from bot.views.blocks import Block, context, escape, message, section, when, who
from sync_core.phases import READY
from sync_core.rollout import FlowStatus, PhaseStatus

STATE_EMOJI = {
    "planned": ":white_circle:",
    "parallel": ":large_yellow_circle:",
    "live": ":large_green_circle:",
}


def phase_line(p: PhaseStatus) -> str:
    text = f"{STATE_EMOJI.get(p.state, '')} *Phase {p.id}: {escape(p.name)}* — {p.state}"
    if p.days_in_parallel is not None:
        text += f", day {p.days_in_parallel} of {p.parallel_days} in parallel"
    flows = escape(", ".join(p.flows)) or "none"
    text += f"\n      flows: {flows} · failures in 7 days: {p.failures_7d}"
    if p.comparison:
        text += f"\n      compared with the manual process: {comparison_text(p.comparison)}"
    if p.review == READY:
        text += f"\n      :white_check_mark: {READY}: `/phase promote {p.id}`"
    elif p.review:
        text += f"\n      {escape(p.review)}"
    return text


def comparison_text(counts: dict[str, int]) -> str:
    """``12 match · 3 differ · 1 missing``: how the parallel period compared."""
    words = {"match": "match", "differs": "differ", "missing": "missing", "unreadable": "unread"}
    return " · ".join(f"{counts[key]} {word}" for key, word in words.items() if counts.get(key))


def flow_line(f: FlowStatus) -> str:
    state = (
        f":double_vertical_bar: paused by {escape(f.paused_by or '?')}" if f.paused else "running"
    )
    text = f"*{escape(f.name)}* (phase {f.phase}) — {state}\n      last run {when(f.last_run_at)}"
    if f.last_run_outcome:
        text += f" ({escape(f.last_run_outcome)})"
    text += f" · backlog {f.backlog} · failures in 24 h {f.failures_24h}"
    return text


def phase_status_message(view: PhaseStatusView) -> dict[str, Any]:
    blocks: list[Block] = [section("*Rollout*")]
    blocks += [section(phase_line(p)) for p in view.phases]
    return message("Rollout status", blocks)


def sync_status_message(view: SyncStatusView) -> dict[str, Any]:
    blocks: list[Block] = [section("*Flows*")]
    blocks += [section(flow_line(f)) for f in view.flows]
    return message("Flow status", blocks)


def confirm_modal(view: PhaseConfirm, *, channel: str | None) -> dict[str, Any]:
    verb = "Promote" if view.action == "promote" else "Roll back"
    lines = [
        f"{verb} *phase {view.phase_id}: {escape(view.phase_name)}* "
        f"from {view.from_state} to *{view.to_state}*."
    ]
    for gate in view.gates:
        mark = ":white_check_mark:" if gate.passed else ":x:"
        lines.append(f"{mark} gate {gate.name}: {escape(gate.detail)}")
    blocks: list[Block] = [
        section("\n".join(lines)),
        reason_input("Reason (goes to the audit log)"),
    ]
    if view.failed_gates:
        blocks.append(
            {
                "type": "input",
                "block_id": ids.OVERRIDE_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Override failed gates"},
                "element": {
                    "type": "checkboxes",
                    "action_id": ids.OVERRIDE_INPUT,
                    "options": [
                        {
                            "text": {"type": "plain_text", "text": "Override: promote anyway"},
                            "value": "override",
                        }
                    ],
                },
            }
        )
    metadata = {"action": view.action, "phase": view.phase_id, "channel": channel}
    return {
        "type": "modal",
        "callback_id": ids.PHASE_MODAL,
        "private_metadata": json.dumps(metadata),
        "title": {"type": "plain_text", "text": f"{verb} phase {view.phase_id}"},
        "submit": {"type": "plain_text", "text": verb},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def phase_changed_message(view: PhaseChanged) -> dict[str, Any]:
    c = view.change
    text = (
        f":arrows_clockwise: Phase {c.phase_id} ({escape(view.phase_name)}) moved from "
        f"{c.from_state} to *{c.to_state}* by {who(view.actor)}. Reason: {escape(c.reason)}"
    )
    blocks: list[Block] = [section(text)]
    if c.overridden:
        blocks.append(context(f":warning: gates overridden: {', '.join(c.overridden)}"))
    if c.backfilled_events:
        blocks.append(
            context(f"{c.backfilled_events} parallel-period write(s) queued for delivery")
        )
    if c.manual_step_retired:
        blocks.append(
            section(
                f":no_entry_sign: *Manual step retired:* {escape(c.manual_step_retired)} "
                "Handoff does this now; please stop doing it by hand."
            )
        )
    return message(text, blocks)
