"""Running reconciliation for one entity: its records read and kept in the store, the
proposals found from there and stored (``sync_core.matching.storing``), and a person's
decisions on them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from connectors.base import Connector, classified
from sync_core.map.model import Entity, IntegrationMap, RecordRef
from sync_core.matching.clusters import Band, Candidate, Thresholds
from sync_core.matching.decisions import decide_as, record_decision
from sync_core.matching.from_store import keep_records, propose_from_store
from sync_core.matching.keys import MatchRecord
from sync_core.matching.reading import ReadRecords, begin_read, read_pages
from sync_core.matching.storing import REPORT_ROWS, ProposalStore
from sync_core.minting import canonical_id_for
from sync_core.ports import UnitOfWork, UnitOfWorkFactory
from sync_core.store.models import (
    LinkRow,
    MatchProposalRow,
    MatchRecordRow,
    MatchStatus,
)

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
    proposals: list[MatchProposalRow] = field(default_factory=list)  # the first ones (see counts)

    @property
    def found(self) -> int:
        """How many proposals the run found (``proposals`` may hold only the first)."""
        return sum(self.counts.values())


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
    keep_rows: int | None = REPORT_ROWS,
) -> MatchReport:
    """Propose the links between the entity's records in every system holding it, from the
    records kept in the store, and store the proposals. The caller commits. ``only``:
    reconcile these copy record types alone (the targets of one phase); the proposals of
    the others are left as they are. ``read_before``: what was read (and kept) before the
    transaction began, by :func:`read_records` or by a read that resumes after a crash (see
    ``sync_core.matching.resumable``): a vendor whose reading writes to the store, as a
    refreshed OAuth token does, must not wait for this transaction. Without it, the records
    are read here, each page kept in this transaction.

    The copies first: when none is free to match (none read, or each carries a canonical ID
    or is linked already), nothing can be proposed and the minting side is not read, which
    ``MatchReport.unread`` says. Neither side is ever held in memory: pairs are found and
    scored from the store, and the proposals stored a chunk at a time: the report keeps the
    first ``keep_rows`` of them (None: every one) and counts them all."""
    entity = entity_to_match(integration_map, entity_name)
    minted_by = entity.canonical_id.minted_by
    thresholds = Thresholds(entity.match.auto_accept, entity.match.review)
    keys = tuple(entity.match.keys) or None
    if keys is not None and "name" not in keys:
        keys = (*keys, "name")
    report = MatchReport(entity_name)

    def read(ref: RecordRef) -> ReadRecords:
        if read_before is not None:
            found = read_before.get(ref)
            if found is None:
                # read before without it (no copy was free then), and a copy is free now:
                # a link went away meanwhile; reading here would hold this transaction
                raise MatchError(
                    f"{ref} was not read, and the links changed while {entity_name} was "
                    "being read: run the reconciliation again"
                )
        else:
            found = begin_read(uow, entity_name, ref, now)

            def keep(page: Sequence[MatchRecord]) -> None:
                keep_records(uow, entity_name, page, found.since)

            _read(connectors, integration_map, entity_name, found, keep, progress)
        report.read[str(ref)] = found.total
        return found

    minted: dict[str, str] = {}

    def canonical_of(source: MatchRecord) -> str:
        """The source record's canonical ID, looked up (or minted) once a run."""
        if source.external_id not in minted:
            minted[source.external_id] = canonical_id_for(
                uow, entity_name, entity, source.external_id, source.display_name, now
            )
        return minted[source.external_id]

    refs = refs_to_read(entity, only)
    read_copies: list[ReadRecords] = []
    free_copies: list[ReadRecords] = []  # those with a record free to match
    for ref in refs[1:]:
        found = read(ref)
        read_copies.append(found)
        _, free = uow.matches.count_read(entity_name, ref.system, ref.record_type, found.since)
        report.already_linked[str(ref)] = found.total - free
        if free:
            free_copies.append(found)
    proposals = ProposalStore(uow, entity_name, now, canonical_of, keep_rows)
    if free_copies or (read_before and minted_by in read_before):
        minting = read(minted_by)
        left = (minted_by, minting.since)
        for found in free_copies:
            right = (found.ref, found.since)
            # a chunk of proposals stored before the next is loaded
            for chunk in propose_from_store(uow, entity_name, left, right, thresholds, keys):
                proposals.add(_second_copies(uow, found.ref, chunk, canonical_of))
    else:
        report.unread[str(minted_by)] = NO_COPY_FREE
    proposals.finish({(f.ref.system, f.ref.record_type): f for f in read_copies})
    report.read = {str(ref): report.read[str(ref)] for ref in refs if str(ref) in report.read}
    report.proposals = proposals.rows
    report.counts = dict(proposals.counts)
    return report


def _second_copies(
    uow: UnitOfWork,
    ref: RecordRef,
    proposed: list[Candidate],
    canonical_of: Callable[[MatchRecord], str],
) -> list[Candidate]:
    """The proposals for ``ref``, those whose customer has its copy here already moved to
    review: a second copy, which a person resolves (unlink the wrong one, or reject), never
    automatically."""
    canonical_ids = [canonical_of(candidate.source) for candidate in proposed]
    copies_here = _copies(uow, ref, canonical_ids)
    reviewed: list[Candidate] = []
    for candidate, canonical_id in zip(proposed, canonical_ids, strict=True):
        linked = copies_here.get(canonical_id)
        if linked is not None:
            note = (
                f"{canonical_id} has {ref} {linked.external_id} linked already: "
                "a second copy (unlink the wrong one, or reject)"
            )
            score = replace(candidate.score, reasons=(*candidate.score.reasons, note))
            candidate = replace(candidate, score=score, band=Band.REVIEW)
        reviewed.append(candidate)
    return reviewed


def _copies(uow: UnitOfWork, ref: RecordRef, canonical_ids: list[str]) -> dict[str, LinkRow]:
    """The records of ``ref`` linked to these customers: one select a chunk."""
    wanted = sorted(set(canonical_ids))
    copies: dict[str, LinkRow] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        for row in uow.links.in_system(chunk, ref.system, ref.record_type):
            copies.setdefault(row.canonical_id, row)
    return copies


def any_copy_free(
    uow_factory: UnitOfWorkFactory, entity_name: str, copies: Iterable[ReadRecords]
) -> bool:
    """Whether the minting side is worth reading: some copy read is free to match."""
    copies = [found for found in copies if found.kept]
    if not copies:
        return False
    with uow_factory() as uow:  # a short read of links, between two vendor reads
        return any(
            uow.matches.count_read(entity_name, f.ref.system, f.ref.record_type, f.since)[1]
            for f in copies
        )


def read_records(
    uow_factory: UnitOfWorkFactory,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    entity_name: str,
    *,
    now: datetime,
    only: Collection[RecordRef] | None = None,
) -> dict[RecordRef, ReadRecords]:
    """Read every record :func:`run_match` compares, with no transaction open, each page kept
    in the store in its own short one: the copies first, then the minting side only if a copy
    is free to match."""
    minted_by, *copy_refs = refs_to_read(entity_to_match(integration_map, entity_name), only)

    def read(ref: RecordRef) -> ReadRecords:
        with uow_factory() as uow:
            found = begin_read(uow, entity_name, ref, now)

        def keep(page: Sequence[MatchRecord]) -> None:
            with uow_factory() as uow:
                keep_records(uow, entity_name, page, found.since)
                uow.commit()

        _read(connectors, integration_map, entity_name, found, keep, None)
        return found

    found = {ref: read(ref) for ref in copy_refs}
    if any_copy_free(uow_factory, entity_name, found.values()):
        found[minted_by] = read(minted_by)
    return found


def _read(
    connectors: Mapping[str, Connector],
    integration_map: IntegrationMap,
    entity_name: str,
    found: ReadRecords,
    keep: Callable[[Sequence[MatchRecord]], None],
    progress: Callable[[str, int], None] | None,
) -> None:
    """Every record of ``found.ref``, each page reduced to match keys and kept as it arrives."""
    ref = found.ref
    connector = connector_for(connectors, ref)
    tick = (lambda n: progress(str(ref), n)) if progress else None
    pages = read_pages(connector, ref.record_type, tick)
    while True:
        with classified(f"reading {ref} to reconcile {entity_name}"):
            page = next(pages, None)
        if page is None:
            return
        keep(found.add(integration_map, entity_name, page))
        found.pages += 1


def connector_for(connectors: Mapping[str, Connector], ref: RecordRef) -> Connector:
    connector = connectors.get(ref.system)
    if connector is None:
        raise MatchError(f"no connector for system {ref.system}")
    return connector


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
    decide_as(uow, row, status, actor, reason, now)
    return row


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
