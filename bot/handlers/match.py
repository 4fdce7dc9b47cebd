"""``/match``: how reconciliation stands, and reviewing its proposals one at a time (admins).

``/match review`` answers with the first open proposal and Accept, Reject and Not sure
buttons; each click decides it (audited) and the message is replaced by the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.handlers.context import HandlerContext
from bot.handlers.guard import refuse_unless_admin
from bot.handlers.results import Notice
from connectors.base import ConnectorError
from sync_core.linking import LinkError, unlink_record
from sync_core.map.model import RecordRef
from sync_core.matching.service import MatchError, decide, record_urls
from sync_core.phases import settle_review
from sync_core.store.models import MatchProposalRow, MatchStatus

USAGE = (
    "Use `/match status`, `/match review [ENTITY]` or "
    "`/match unlink CANONICAL_ID SYSTEM.RECORD_TYPE REASON…`."
)


@dataclass(frozen=True)
class MatchStatusView:
    # (entity, record type, status) -> proposals
    counts: dict[tuple[str, str, str], int]


@dataclass(frozen=True)
class ProposalCard:
    id: int
    entity: str
    canonical_id: str
    source: str
    source_name: str
    record: str
    name: str
    score: float
    reasons: str
    source_url: str | None = None
    url: str | None = None

    @classmethod
    def of(
        cls, row: MatchProposalRow, urls: tuple[str | None, str | None] = (None, None)
    ) -> ProposalCard:
        return cls(
            id=row.id,
            entity=row.entity,
            canonical_id=row.canonical_id,
            source=f"{row.source_system}.{row.source_record_type} {row.source_external_id}",
            source_name=row.source_name or "",
            record=f"{row.ref} {row.external_id}",
            name=row.name or "",
            score=row.score,
            reasons=row.reasons,
            source_url=urls[0],
            url=urls[1],
        )


@dataclass(frozen=True)
class MatchReviewView:
    proposal: ProposalCard | None  # the next one to decide; None when nothing is open
    remaining: int
    decided: list[str] = field(default_factory=list)  # what the last click did
    decided_by: str | None = None  # the Slack user who clicked


def match_command(ctx: HandlerContext, text: str) -> MatchStatusView | MatchReviewView | Notice:
    """`/match status` · `/match review [ENTITY]` · `/match unlink CANONICAL_ID RECORD REASON`
    — reconciliation of the records that existed before Handoff; review and unlink are for
    admins."""
    words = text.split()
    if not words or words[0] == "status":
        return match_status(ctx)
    if words[0] == "unlink":
        return unlink(ctx, words[1:])
    if words[0] != "review" or len(words) > 2:
        return Notice(USAGE, ok=False)
    entity = words[1] if len(words) == 2 else None
    if entity is not None and entity not in ctx.map.entities:
        known = ", ".join(sorted(ctx.map.entities))
        return Notice(f"There is no entity {entity} (entities: {known}).", ok=False)
    refused = refuse_unless_admin(ctx, "match review", f"match:{entity or 'all'}")
    if refused is not None:
        return refused
    return next_proposal(ctx, after=0)


def match_status(ctx: HandlerContext) -> MatchStatusView:
    counts: dict[tuple[str, str, str], int] = {}
    with ctx.uow_factory() as uow:
        for entity in ctx.map.entities:
            for row in uow.matches.for_entity(entity):
                key = (entity, row.ref, row.status)
                counts[key] = counts.get(key, 0) + 1
    return MatchStatusView(counts)


def next_proposal(
    ctx: HandlerContext,
    *,
    after: int,
    decided: list[str] | None = None,
    decided_by: str | None = None,
) -> MatchReviewView:
    """The first open proposal after ``after`` (by id), and how many are open in all."""
    with ctx.uow_factory() as uow:
        open_rows = [
            row
            for entity in ctx.map.entities
            for row in uow.matches.for_entity(entity, [MatchStatus.OPEN.value])
        ]
        later = [row for row in open_rows if row.id > after]
        card = ProposalCard.of(later[0], record_urls(uow, later[0])) if later else None
    return MatchReviewView(card, len(open_rows), decided or [], decided_by)


def decide_proposal(
    ctx: HandlerContext, proposal_id: int, decision: str
) -> MatchReviewView | Notice:
    """A click on Accept, Reject or Not sure: the decision, audited, then the next proposal."""
    refused = refuse_unless_admin(ctx, f"match {decision}", f"match:{proposal_id}")
    if refused is not None:
        return refused
    with ctx.uow_factory() as uow:
        try:
            row = decide(uow, proposal_id, decision, actor=ctx.actor.label, now=ctx.clock.now())
        except MatchError as exc:
            return Notice(str(exc), ok=False)
        settle_review(uow, ctx.map, actor=ctx.actor.label, now=ctx.clock.now())
        uow.commit()
        said = {"accept": "accepted", "reject": "rejected"}.get(decision, "left open (not sure)")
        line = f"{row.canonical_id} ↔ {row.ref} {row.external_id} ({row.name}): {said}"
    return next_proposal(ctx, after=proposal_id, decided=[line], decided_by=ctx.actor.user_id)


def unlink(ctx: HandlerContext, words: list[str]) -> Notice:
    """Undo a wrong link (admins): the canonical ID is cleared from that system's record and
    the link dropped; the reason is kept in the audit log with who asked."""
    if len(words) < 3:
        return Notice(
            "Use `/match unlink CANONICAL_ID SYSTEM.RECORD_TYPE REASON…`, "
            "e.g. `/match unlink PD-42 xero.contact the wrong Acme`.",
            ok=False,
        )
    canonical_id, record, reason = words[0], words[1], " ".join(words[2:])
    refused = refuse_unless_admin(ctx, "match unlink", canonical_id)
    if refused is not None:
        return refused
    try:
        ref = RecordRef.parse(record)
    except ValueError as exc:
        return Notice(str(exc), ok=False)
    with ctx.uow_factory() as uow:
        try:
            done = unlink_record(
                uow,
                ctx.map,
                ctx.engine.connectors,
                canonical_id,
                ref,
                actor=ctx.actor.label,
                reason=reason,
                now=ctx.clock.now(),
            )
        except (LinkError, ConnectorError) as exc:
            return Notice(f"Could not unlink {canonical_id} from {ref}: {exc}", ok=False)
        uow.commit()
    return Notice(
        f"Unlinked {done.canonical_id} from {done.ref} {done.external_id}: the record no longer "
        f"carries the canonical ID and syncs no longer write into it. Reason: {reason}"
    )
