"""Storing a run's proposals, a chunk at a time: each chunk's existing proposals looked up
together, its new ones added, its automatic acceptances decided, then flushed, so a run holds
the proposals of one chunk (and the ids of those it has stored), never every one.

Re-running updates the proposals: new ones appear, scores and reasons are refreshed, an open
proposal (or one accepted automatically and not applied) no longer found goes stale, and every
decision a person made is kept. A proposal apply refused stays open for a person while its
record is there, and goes stale once it is gone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sync_core.matching.clusters import Band, Candidate
from sync_core.matching.decisions import AUTO_ACTOR, back_to_review, decide_as, record_decision
from sync_core.matching.keys import MatchRecord
from sync_core.matching.reading import ReadRecords
from sync_core.ports import UnitOfWork
from sync_core.store.models import MatchProposalRow, MatchStatus

MATCH_ACTOR = "handoff:match"  # who records what a run finds (a refused record gone)
REPORT_ROWS = 1_000  # proposals a report keeps to show; its counts cover every one


class ProposalStore:
    """The proposals of one run of one entity, stored as they come."""

    def __init__(
        self,
        uow: UnitOfWork,
        entity_name: str,
        now: datetime,
        canonical_of: Callable[[MatchRecord], str],
        keep_rows: int | None = REPORT_ROWS,
    ) -> None:
        self.uow = uow
        self.entity_name = entity_name
        self.now = now
        self.canonical_of = canonical_of
        self.keep_rows = keep_rows
        self.counts: Counter[str] = Counter()  # status -> proposals found this run
        self.rows: list[MatchProposalRow] = []  # the first ``keep_rows`` of them
        self._seen: set[int] = set()  # every proposal this run found, by id

    def add(self, candidates: Sequence[Candidate]) -> None:
        """Store a chunk of proposals: look up those that exist, add the others."""
        uow, now = self.uow, self.now
        pairs = [
            (self.canonical_of(c.source), c.copy.system, c.copy.record_type, c.copy.external_id)
            for c in candidates
        ]
        existing = uow.matches.proposals_for(self.entity_name, pairs)
        # refused at apply (the record carried another canonical ID): a person settles them,
        # also one gone stale with its record and proposed again (never auto-accepted again)
        refused = uow.matches.refusals(
            [
                r.id
                for r in existing.values()
                if r.status in (MatchStatus.OPEN.value, MatchStatus.STALE.value)
            ]
        )
        found: list[MatchProposalRow] = []
        accepted: list[MatchProposalRow] = []
        for candidate, pair in zip(candidates, pairs, strict=True):
            source, copy = candidate.source, candidate.copy
            row = existing.get(pair)
            if row is None:
                row = MatchProposalRow(
                    entity=self.entity_name,
                    canonical_id=pair[0],
                    source_system=source.system,
                    source_record_type=source.record_type,
                    source_external_id=source.external_id,
                    system=copy.system,
                    record_type=copy.record_type,
                    external_id=copy.external_id,
                    status=MatchStatus.OPEN.value,
                    created_at=now,
                )
                uow.matches.add(row)
            row.source_name = source.display_name
            row.name = copy.display_name
            row.score = candidate.score.value
            row.reasons = candidate.score.text()
            row.band = candidate.band.value
            row.updated_at = now
            if row.id in refused:
                back_to_review(row, refused[row.id])
            elif row.status in (MatchStatus.OPEN.value, MatchStatus.STALE.value):
                row.status = MatchStatus.OPEN.value
                if candidate.band == Band.AUTO:
                    accepted.append(row)
            found.append(row)
        uow.flush()  # the new proposals' ids, for their decisions: one flush a chunk
        for row in accepted:
            decide_as(uow, row, MatchStatus.ACCEPTED, AUTO_ACTOR, row.reasons, now)
        uow.flush()  # flushed rows are let go by the session once this run drops them
        for row in found:
            self._seen.add(row.id)
            self.counts[row.status] += 1
            if self.keep_rows is None or len(self.rows) < self.keep_rows:
                self.rows.append(row)

    def finish(self, copies_read: Mapping[tuple[str, str], ReadRecords]) -> None:
        """The proposals of the record types read (``copies_read``) that this run did not
        find go stale: open ones, and those accepted automatically and not applied yet. One
        apply refused stays a person's call while its record is there (it carries another
        canonical ID, so it is not proposed), and goes stale once the record is gone."""
        gone = [
            (proposal_id, status)
            for proposal_id, status in self.uow.matches.unsettled(
                self.entity_name, copies_read.keys(), AUTO_ACTOR
            )
            if proposal_id not in self._seen
        ]
        refused = self.uow.matches.refusals(
            [proposal_id for proposal_id, status in gone if status == MatchStatus.OPEN.value]
        )
        self.uow.matches.mark_stale(
            [proposal_id for proposal_id, _ in gone if proposal_id not in refused], self.now
        )
        for proposal_id in sorted(refused):  # a few: those apply refused
            row = self.uow.matches.get(proposal_id)
            found = copies_read.get((row.system, row.record_type)) if row else None
            if row is not None and found is not None and found.gone(row.external_id):
                self._gone_stale(row)

    def _gone_stale(self, row: MatchProposalRow) -> None:
        """A refused proposal whose record was deleted: nothing is left for a person to fix,
        so it goes stale like any proposal no longer found, the reason in its history."""
        row.status = MatchStatus.STALE.value
        row.updated_at = self.now
        reason = f"{row.ref} {row.external_id} is gone: not among the records read"
        record_decision(self.uow, row, MatchStatus.STALE.value, MATCH_ACTOR, reason, self.now)
