"""One poll in words that add up: what became of the records read, flow by flow (a record
read once is planned once per flow reading its source, so outcomes summed over flows would
exceed the records read). The meaning of each outcome word lives here too."""

from __future__ import annotations

from sync_core.engine import PollReport

# What each planning outcome means, for `handoff sync --help` and docs/operations.md.
OUTCOME_MEANINGS = {
    "queued": "an event was queued for delivery",
    "shadow": "an intended write was kept for the phase's parallel period (not sent)",
    "unchanged": "the flow's payload is the same as last time: nothing to send",
    "filtered": "the flow's `when:` condition is false for the record",
    "planned_phase": "the flow's phase has not started",
    "unlinked": "the record (or its target entity) has no canonical ID yet",
    "dead": "the flow could not be planned for the record: a dead event and an alert",
    "echo": "a two-way flow's own write read back from the other side",
    "conflict": "both sides changed: held for a person",
    "conflict_lost": "both sides changed and the other side wins by the conflict rule",
    "create_only": "the flow has `updates: never` and its target exists: audited, not sent",
}


def flow_outcomes(report: PollReport) -> str:
    """``flow-a: filtered 26 + queued 4 = 30; flow-b: unchanged 30``: per flow, the outcomes
    of the records it planned (every record read, unless the flow is paused)."""
    parts = []
    for flow, counts in sorted(report.by_flow.items()):
        detail = " + ".join(f"{word} {n}" for word, n in sorted(counts.items()))
        if len(counts) > 1:
            detail += f" = {sum(counts.values())}"
        parts.append(f"{flow}: {detail}")
    return "; ".join(parts)


def poll_line(report: PollReport) -> str:
    """``read 30 record(s) from pipedrive.deal, each planned for 2 flows: …``."""
    flows = len(report.by_flow)
    each = f"each planned for {flows} flow(s)" if flows else "no flow planned"
    return f"read {report.records} record(s) from {report.source}, {each}: {flow_outcomes(report)}"


def outcome_help() -> str:
    return "; ".join(f"{word}: {meaning}" for word, meaning in OUTCOME_MEANINGS.items())
