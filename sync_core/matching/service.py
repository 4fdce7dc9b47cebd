"""Running reconciliation for one entity and keeping its proposals in the store.

Re-running updates the proposals: new ones appear, scores and reasons are refreshed, an open
proposal no longer found goes stale, and every decision a person made is kept. A proposal apply
refused stays open for a person while its record is there, and goes stale once it is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from connectors.base import Connector, classified
from sync_core.map.model import Entity, IntegrationMap, RecordRef
from sync_core.matching.clusters import Band, Candidate, Thresholds, propose
from sync_core.matching.keys import MatchRecord
from sync_core.matching.reading import ReadRecords, read_pages, record_row
from sync_core.minting import canonical_id_for
from sync_core.ports import UnitOfWork, UnitOfWorkFactory
from sync_core.store.models import (
    ActionRow,
    LinkRow,
    MatchDecisionRow,
    MatchProposalRow,
    MatchRecordRow,
    MatchStatus,
)

AUTO_ACTOR = "handoff:auto_accept"
MATCH_ACTOR = "handoff:match"  # who records what a run finds (a refused record gone)
NO_COPY_FREE = "no copy free to match"  # why the minting side was not read
LOOKUP_CHUNK = 500  # records looked up in one select
DECISIONS = {
    "accept": MatchStatus.ACCEPTED,
    "reject": MatchStatus.REJECTED,
    "skip": MatchStatus.OPEN,
    "unsure": MatchStatus.OPEN,  # like skip, but said out loud: kept in the audit log
}


class MatchError(ValueError):
    """Reconciliation cannot run or a decision cannot be taken (unknown entity, proposal)."""


@dataclass
class MatchReport:
    entity: str
    read: dict[str, int] = field(default_factory=dict)  # record type -> records read
    already_linked: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # status -> proposals
    unread: dict[str, str] = field(default_factory=dict)  # record type -> why it was not read
    proposals: list[MatchProposalRow] = field(default_factory=list)


def entity_to_match(integration_map: IntegrationMap, entity_name: str) -> Entity:
    """The entity ``handoff match`` reconciles; :class:`MatchError` when it cannot."""
    entity = integration_map.entities.get(entity_name)
    if entity is None:
        known = ", ".join(sorted(integration_map.entities)) or "none"
        raise MatchError(f"no entity {entity_name!r} in the map (entities: {known})")
    if not entity.copies:
        raise MatchError(f"{entity_name} has no copies: nothing to reconcile")
    return entity


def refs_to_read(entity: Entity, only: Collection[RecordRef] | None = None) -> list[RecordRef]:
    """The minting record type, then each copy record type (``only`` these, when given).
    Readers take the copies first: with none free to match, the minting side is not read."""
    copies = [ref for ref in entity.copy_refs() if only is None or ref in only]
    return [entity.canonical_id.minted_by, *copies]


def run_match(
    uow: UnitOfWork,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    entity_name: str,
    *,
    now: datetime,
    progress: Callable[[str, int], None] | None = None,
    only: Collection[RecordRef] | None = None,
    read_before: Mapping[RecordRef, ReadRecords] | None = None,
) -> MatchReport:
    """Read the entity's records in every system holding it and store the proposals.
    Reads only; the caller commits. ``only``: reconcile these copy record types alone (the
    targets of one phase); the proposals of the others are left as they are. ``read_before``:
    what was read before the transaction began (by :func:`read_records`, or by a read that
    resumes after a crash, see ``sync_core.matching.resumable``): a vendor whose reading
    writes to the store, as a refreshed OAuth token does, must not wait for this
    transaction. The copies are read first; when none is free to match (none read, or each
    carries a canonical ID or is linked already), nothing can be proposed and the minting
    side is not read (unless read before), which ``MatchReport.unread`` says."""
    entity = entity_to_match(integration_map, entity_name)
    minted_by = entity.canonical_id.minted_by
    thresholds = Thresholds(entity.match.auto_accept, entity.match.review)
    keys = tuple(entity.match.keys) or None
    if keys is not None and "name" not in keys:
        keys = (*keys, "name")
    report = MatchReport(entity_name)

    def read(ref: RecordRef) -> ReadRecords:
        found = read_before.get(ref) if read_before is not None else None
        if found is None:
            found = _read(connectors, integration_map, entity_name, ref, progress)
        report.read[str(ref)] = found.total
        return found

    def keep(found: ReadRecords, records: list[MatchRecord]) -> list[MatchRecord]:
        """Each record's match keys, also kept in the store for review; in one order
        whatever order they were read in (a read resumed after a crash proposes the same)."""
        if not found.stored:
            uow.matches.put_records([record_row(entity_name, match, now) for match in records])
        return sorted(records, key=lambda match: match.external_id)

    minted: dict[str, str] = {}

    def canonical_of(source: MatchRecord) -> str:
        """The source record's canonical ID, looked up (or minted) once a run."""
        if source.external_id not in minted:
            minted[source.external_id] = canonical_id_for(
                uow, entity_name, entity, source.external_id, source.display_name, now
            )
        return minted[source.external_id]

    refs = refs_to_read(entity, only)
    copies: list[tuple[RecordRef, list[MatchRecord]]] = []
    copies_read: dict[tuple[str, str], ReadRecords] = {}
    for ref in refs[1:]:
        found = read(ref)
        copies_read[ref.system, ref.record_type] = found
        free = free_records(uow, found)
        report.already_linked[str(ref)] = found.total - len(free)
        right = keep(found, free)
        copies.append((ref, right))
    left: list[MatchRecord] = []
    if any(right for _, right in copies) or (read_before and minted_by in read_before):
        minting = read(minted_by)
        left = keep(minting, minting.records)
    else:
        report.unread[str(minted_by)] = NO_COPY_FREE
    report.read = {str(ref): report.read[str(ref)] for ref in refs if str(ref) in report.read}
    candidates: list[Candidate] = []
    for ref, right in copies:
        proposed = [
            (candidate, canonical_of(candidate.source))
            for candidate in propose(left, right, thresholds, keys)
        ]
        copies_here = _copies(uow, ref, [canonical_id for _, canonical_id in proposed])
        for candidate, canonical_id in proposed:
            linked = copies_here.get(canonical_id)
            if linked is not None:
                # The customer has its copy here already: this one is a second copy, which
                # a person resolves (unlink the wrong one, or reject), never automatically.
                note = (
                    f"{canonical_id} has {ref} {linked.external_id} linked already: "
                    "a second copy (unlink the wrong one, or reject)"
                )
                score = replace(candidate.score, reasons=(*candidate.score.reasons, note))
                candidate = replace(candidate, score=score, band=Band.REVIEW)
            candidates.append(candidate)
    read_refs = {(ref.system, ref.record_type) for ref in refs[1:]}
    report.proposals = _store(
        uow, entity_name, candidates, now, read_refs, canonical_of, gone_from(copies_read)
    )
    for row in report.proposals:
        report.counts[row.status] = report.counts.get(row.status, 0) + 1
    return report


def _copies(uow: UnitOfWork, ref: RecordRef, canonical_ids: list[str]) -> dict[str, LinkRow]:
    """The records of ``ref`` linked to these customers: one select a chunk."""
    wanted = sorted(set(canonical_ids))
    copies: dict[str, LinkRow] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        for row in uow.links.in_system(chunk, ref.system, ref.record_type):
            copies.setdefault(row.canonical_id, row)
    return copies


def _linked(uow: UnitOfWork, ref: RecordRef, external_ids: list[str]) -> set[str]:
    """Which of these records of ``ref`` are linked to a customer: one select a chunk."""
    linked: set[str] = set()
    for start in range(0, len(external_ids), LOOKUP_CHUNK):
        chunk = external_ids[start : start + LOOKUP_CHUNK]
        rows = uow.links.by_records(ref.system, ref.record_type, chunk)
        linked.update(row.external_id for row in rows)
    return linked


def free_records(uow: UnitOfWork, found: ReadRecords) -> list[MatchRecord]:
    """The copies read that are free to match: linked to no customer (those carrying a
    canonical ID were set aside as they were read)."""
    linked_here = _linked(uow, found.ref, [r.external_id for r in found.records])
    return [r for r in found.records if r.external_id not in linked_here]


def any_copy_free(uow_factory: UnitOfWorkFactory | None, copies: Iterable[ReadRecords]) -> bool:
    """Whether the minting side is worth reading: some copy is free to match. Without a
    store to ask which are linked, any copy carrying no canonical ID counts as free."""
    copies = [found for found in copies if found.records]
    if not copies:
        return False
    if uow_factory is None:
        return True
    with uow_factory() as uow:  # a short read of links, between two vendor reads
        return any(free_records(uow, found) for found in copies)


def read_records(
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    entity_name: str,
    *,
    only: Collection[RecordRef] | None = None,
    uow_factory: UnitOfWorkFactory | None = None,
) -> dict[RecordRef, ReadRecords]:
    """Every record :func:`run_match` compares, read with no transaction open: the copies
    first, then the minting side only if a copy is free to match (``uow_factory``: the store
    that says which copies are linked already)."""
    minted_by, *copy_refs = refs_to_read(entity_to_match(integration_map, entity_name), only)
    found = {ref: _read(connectors, integration_map, entity_name, ref, None) for ref in copy_refs}
    if any_copy_free(uow_factory, found.values()):
        found[minted_by] = _read(connectors, integration_map, entity_name, minted_by, None)
    return found


def _read(
    connectors: Mapping[str, Connector],
    integration_map: IntegrationMap,
    entity_name: str,
    ref: RecordRef,
    progress: Callable[[str, int], None] | None,
) -> ReadRecords:
    """Every record of ``ref``, each page reduced to match keys as it arrives."""
    connector = connector_for(connectors, ref)
    tick = (lambda n: progress(str(ref), n)) if progress else None
    found = ReadRecords(ref)
    pages = read_pages(connector, ref.record_type, tick)
    while True:
        with classified(f"reading {ref} to reconcile {entity_name}"):
            page = next(pages, None)
        if page is None:
            return found
        found.add(integration_map, entity_name, page)


def connector_for(connectors: Mapping[str, Connector], ref: RecordRef) -> Connector:
    connector = connectors.get(ref.system)
    if connector is None:
        raise MatchError(f"no connector for system {ref.system}")
    return connector


def gone_from(
    copies_read: Mapping[tuple[str, str], ReadRecords],
) -> Callable[[MatchProposalRow], bool]:
    """Whether a proposal's record is known to be gone: its record type was read in full this
    run and the record was not among those read (neither free to match nor set aside).
    Each record type's IDs are gathered once, and only if a proposal asks."""
    read_ids: dict[tuple[str, str], set[str] | None] = {}

    def gone(row: MatchProposalRow) -> bool:
        ref = (row.system, row.record_type)
        if ref not in read_ids:
            found = copies_read.get(ref)
            read_ids[ref] = found.external_ids() if found is not None else None
        ids = read_ids[ref]
        return ids is not None and row.external_id not in ids

    return gone


def _store(
    uow: UnitOfWork,
    entity_name: str,
    candidates: list[Candidate],
    now: datetime,
    read_refs: set[tuple[str, str]],
    canonical_of: Callable[[MatchRecord], str],
    gone: Callable[[MatchProposalRow], bool],
) -> list[MatchProposalRow]:
    """Keep the run's proposals beside the decisions taken. ``gone``: whether a proposal's
    record is known to be deleted (not read by this run's full read of its record type)."""
    existing = {
        (r.canonical_id, r.system, r.record_type, r.external_id): r
        for r in uow.matches.for_entity(entity_name)
        if (r.system, r.record_type) in read_refs  # a record type not read keeps its own
    }
    keyed = [
        ((canonical_of(c.source), c.copy.system, c.copy.record_type, c.copy.external_id), c)
        for c in candidates
    ]
    proposed = {key for key, _ in keyed}
    # refused at apply (the record carried another canonical ID): a person settles them, also
    # one gone stale with its record that is proposed again (never auto-accepted again)
    refused = uow.matches.refusals(
        [
            r.id
            for key, r in existing.items()
            if r.status == MatchStatus.OPEN.value
            or (r.status == MatchStatus.STALE.value and key in proposed)
        ]
    )
    found: list[MatchProposalRow] = []
    accepted: list[MatchProposalRow] = []
    for key, candidate in keyed:
        source, copy = candidate.source, candidate.copy
        canonical_id = key[0]
        row = existing.pop(key, None)
        auto = candidate.band == Band.AUTO
        if row is None:
            row = MatchProposalRow(
                entity=entity_name,
                canonical_id=canonical_id,
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
            if auto:
                accepted.append(row)
        found.append(row)
    if accepted:
        uow.flush()  # the new proposals' ids, for their decisions: one flush, not one each
    for row in accepted:
        _decide(uow, row, MatchStatus.ACCEPTED, AUTO_ACTOR, row.reasons, now)
    for row in existing.values():
        if row.id in refused:
            if row.status == MatchStatus.OPEN.value and gone(row):
                _gone_stale(uow, row, now)
            continue  # no longer proposed (its record carries the other ID): still a person's
        automatic = row.status == MatchStatus.ACCEPTED.value and row.decided_by == AUTO_ACTOR
        if row.status == MatchStatus.OPEN.value or automatic:
            row.status = MatchStatus.STALE.value
            row.updated_at = now
    return found


def _gone_stale(uow: UnitOfWork, row: MatchProposalRow, now: datetime) -> None:
    """A refused proposal whose record was deleted: nothing is left for a person to fix, so
    it goes stale like any proposal no longer found, the reason kept in its history."""
    row.status = MatchStatus.STALE.value
    row.updated_at = now
    reason = f"{row.ref} {row.external_id} is gone: not among the records read"
    record_decision(uow, row, MatchStatus.STALE.value, MATCH_ACTOR, reason, now)


def back_to_review(row: MatchProposalRow, refusal: str) -> None:
    """A proposal apply refused waits for a person in the review band, the refusal in its
    reasons: apply never tries it again, nor does auto_accept accept it again; a person
    fixes the record and accepts, or rejects."""
    row.status = MatchStatus.OPEN.value
    row.band = Band.REVIEW.value
    note = f"not linked: {refusal} (fix the record, then accept; or reject)"
    if note not in row.reasons:
        row.reasons = f"{row.reasons}; {note}" if row.reasons else note


def decide(
    uow: UnitOfWork,
    proposal_id: int,
    decision: str,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> MatchProposalRow:
    """A person accepts, rejects or skips a proposal; audited. The caller commits."""
    status = DECISIONS.get(decision.strip().lower())
    if status is None:
        raise MatchError(f"{decision!r} is not a decision (accept, reject, skip, unsure)")
    row = uow.matches.get(proposal_id)
    if row is None:
        raise MatchError(f"no match proposal {proposal_id}")
    if row.status == MatchStatus.APPLIED.value:
        raise MatchError(
            f"proposal {proposal_id} is applied already: `handoff unlink` undoes the link"
        )
    if status == MatchStatus.OPEN:
        if decision.strip().lower() == "unsure":
            record_decision(uow, row, "unsure", actor, reason, now)
        return row  # still open for the next reviewer
    _decide(uow, row, status, actor, reason, now)
    return row


def _decide(
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


def record_urls(uow: UnitOfWork, row: MatchProposalRow) -> tuple[str | None, str | None]:
    """The addresses of both records of a proposal in their vendors' apps, as last read."""
    return records_urls(uow, [row])[0]


def records_urls(
    uow: UnitOfWork, rows: Sequence[MatchProposalRow]
) -> list[tuple[str | None, str | None]]:
    """:func:`record_urls` of each proposal, the kept records read in one select an entity."""
    kept: dict[tuple[str, str, str, str], MatchRecordRow] = {}
    for entity in sorted({row.entity for row in rows}):
        refs = [
            ref
            for row in rows
            if row.entity == entity
            for ref in (
                (row.source_system, row.source_record_type, row.source_external_id),
                (row.system, row.record_type, row.external_id),
            )
        ]
        found = uow.matches.records(entity, refs)
        kept.update({(entity, *ref): record for ref, record in found.items()})

    def url(entity: str, system: str, record_type: str, external_id: str) -> str | None:
        record = kept.get((entity, system, record_type, external_id))
        return record.url if record else None

    return [
        (
            url(row.entity, row.source_system, row.source_record_type, row.source_external_id),
            url(row.entity, row.system, row.record_type, row.external_id),
        )
        for row in rows
    ]
