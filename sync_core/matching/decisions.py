"""Decisions on match proposals: who decided what, when and why, in the proposal's own
history and in the audit log of actions."""

from __future__ import annotations

from datetime import datetime

from sync_core.matching.clusters import Band
from sync_core.ports import UnitOfWork
from sync_core.store.models import ActionRow, MatchDecisionRow, MatchProposalRow, MatchStatus

AUTO_ACTOR = "handoff:auto_accept"


def back_to_review(row: MatchProposalRow, refusal: str) -> None:
    """A proposal apply refused waits for a person in the review band, the refusal in its
    reasons: apply never tries it again, nor does auto_accept accept it again; a person
    fixes the record and accepts, or rejects."""
    row.status = MatchStatus.OPEN.value
    row.band = Band.REVIEW.value
    note = f"not linked: {refusal} (fix the record, then accept; or reject)"
    if note not in row.reasons:
        row.reasons = f"{row.reasons}; {note}" if row.reasons else note


def decide_as(
    uow: UnitOfWork,
    row: MatchProposalRow,
    status: MatchStatus,
    actor: str,
    reason: str | None,
    now: datetime,
) -> None:
    row.status = status.value
    row.decided_by = actor
    row.decided_at = now
    row.reason = reason
    row.updated_at = now
    record_decision(uow, row, status.value, actor, reason, now)


def record_decision(
    uow: UnitOfWork,
    row: MatchProposalRow,
    decision: str,
    actor: str,
    reason: str | None,
    now: datetime,
) -> None:
    """One decision on a proposal, in its own history and in the audit log of actions."""
    uow.matches.add_decision(
        MatchDecisionRow(proposal_id=row.id, decision=decision, actor=actor, reason=reason, at=now)
    )
    uow.actions.add(
        ActionRow(
            at=now,
            actor=actor,
            action=f"match_{decision}",
            subject=row.canonical_id,
            reason=reason,
            detail={
                "proposal": row.id,
                "record": row.ref,
                "external_id": row.external_id,
                "score": row.score,
            },
            allowed=True,
        )
    )
