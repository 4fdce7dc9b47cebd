"""Applying accepted proposals: stamp the canonical ID into each record and store the link.

Each record is read before it is stamped: one that carries its canonical ID already is linked
without a write, and one that carries another (typed by hand, or stamped by another process
since matching read it) is never overwritten: it is reported as not linked, with the reason,
and its proposal goes back to a person (open, in the review band, the refusal in its reasons
and, once, in the audit log), so no later run tries it again until someone accepts it anew. A
proposal that failed otherwise (the vendor down, a fault) stays accepted and is tried again
at the next run. Where the vendor batches writes (the connector has the
batched-upsert power) and the canonical ID goes into a plain field, a batch of up to
``batch_size`` records is read in as few calls as the vendor allows (one, where it has the
batched-read power), stamped in one call and booked in one transaction with its links;
elsewhere one proposal per transaction (a read, then a stamp). Either way a crash loses at
most the batch in hand: re-running finds those proposals still accepted, reads the records
the vendor stamped before the crash and books them without writing again, so every record
carries its canonical ID once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import Connector, ConnectorError, Permanent, Record, UpsertItem, classified
from connectors.capabilities import BatchedRead, BatchedUpsert, batch_size
from sync_core.identity import Identity
from sync_core.linking import (
    Adoption,
    CanonicalIdConflict,
    LinkError,
    adopt_record,
    book_adoption,
    check_adoption,
    needs_stamp,
)
from sync_core.lookups import StoreLookups
from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.matching.decisions import back_to_review, record_decision
from sync_core.phases import settle_review
from sync_core.ports import UnitOfWork, UnitOfWorkFactory
from sync_core.store.models import REFUSED, MatchProposalRow, MatchStatus


@dataclass
class ApplyReport:
    applied: list[str] = field(default_factory=list)  # "PD-1 → xero.contact 7"
    failed: list[str] = field(default_factory=list)  # with the reason; tried again next run
    refused: list[str] = field(default_factory=list)  # with the reason; back to review
    batches: int = 0  # batched vendor calls made


def apply_accepted(
    uow_factory: UnitOfWorkFactory,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    entity_name: str,
    *,
    actor: str,
    clock: Callable[[], datetime],
    only: Collection[RecordRef] | None = None,
) -> ApplyReport:
    """Stamp and link every accepted proposal of the entity (batched where the vendor
    batches); ``only``: those of these record types."""
    report = ApplyReport()
    with uow_factory() as uow:
        ids: dict[RecordRef, list[int]] = {}
        for row in uow.matches.for_entity(entity_name, [MatchStatus.ACCEPTED]):
            ref = RecordRef(system=row.system, record_type=row.record_type)
            if only is None or ref in only:
                ids.setdefault(ref, []).append(row.id)
    for ref, proposal_ids in ids.items():
        size = _batched(integration_map, connectors, entity_name, ref)
        if size is None:
            for proposal_id in proposal_ids:
                _apply_one(
                    uow_factory, integration_map, connectors, proposal_id, actor, clock, report
                )
            continue
        for start in range(0, len(proposal_ids), size):
            chunk = proposal_ids[start : start + size]
            _apply_batch(uow_factory, integration_map, connectors, ref, chunk, actor, clock, report)
    if report.applied:
        with uow_factory() as uow:
            # the last link a held phase waited for: its first-start alert says it is ready
            settle_review(uow, integration_map, actor=actor, now=clock())
            uow.commit()
    return report


def _batched(
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    entity_name: str,
    ref: RecordRef,
) -> int | None:
    """The batch size for stamping ``ref``; ``None``: one record at a time."""
    connector = connectors.get(ref.system)
    entity = integration_map.entities.get(entity_name)
    id_field = entity.id_field_for(ref) if entity else None
    if not isinstance(connector, BatchedUpsert) or id_field is None or not id_field.is_plain:
        return None
    return batch_size(connector)


def _apply_one(
    uow_factory: UnitOfWorkFactory,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    proposal_id: int,
    actor: str,
    clock: Callable[[], datetime],
    report: ApplyReport,
) -> None:
    with uow_factory() as uow:
        row = uow.matches.get(proposal_id)
        if row is None or row.status != MatchStatus.ACCEPTED.value:
            return  # another run applied it meanwhile
        now = clock()
        label = _label(row)
        try:
            _ensure_entity(uow, integration_map, connectors, row.entity, row, now)
            adopt_record(
                uow,
                integration_map,
                connectors,
                row.canonical_id,
                RecordRef(system=row.system, record_type=row.record_type),
                row.external_id,
                actor=actor,
                now=now,
            )
        except (LinkError, ConnectorError) as exc:
            uow.rollback()
            failure: Exception = exc
        else:
            _applied(uow, row, actor, now)
            uow.commit()
            report.applied.append(label)
            return
    with uow_factory() as uow:  # nothing of the failed attempt is kept but its report
        row = uow.matches.get(proposal_id)
        if row is None:  # the proposals were cleared meanwhile
            report.failed.append(f"{label}: {failure}")
            return
        _not_linked(uow, row, failure, actor, now, report)
        uow.commit()


def _apply_batch(
    uow_factory: UnitOfWorkFactory,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    ref: RecordRef,
    proposal_ids: list[int],
    actor: str,
    clock: Callable[[], datetime],
    report: ApplyReport,
) -> None:
    """Stamp a batch of accepted proposals of ``ref`` in one vendor call and book them in one
    transaction; a proposal that cannot be adopted, or whose write the vendor refused, is
    reported failed alone. The batch is read first, as one record is: a record that carries
    its canonical ID already (a batch written before a crash) is linked without a write, and
    one that carries another (typed by hand since matching read it) is not stamped."""
    with uow_factory() as uow:
        now = clock()
        ready: list[tuple[MatchProposalRow, Adoption]] = []
        for proposal_id in proposal_ids:
            row = uow.matches.get(proposal_id)
            if row is None or row.status != MatchStatus.ACCEPTED.value:
                continue  # another run applied it meanwhile
            try:
                with uow.savepoint():
                    _ensure_entity(uow, integration_map, connectors, row.entity, row, now)
                    adoption = check_adoption(
                        uow, integration_map, connectors, row.canonical_id, ref, row.external_id
                    )
            except (LinkError, ConnectorError) as exc:
                report.failed.append(f"{_label(row)}: {exc}")
                continue
            ready.append((row, adoption))
        if not ready:
            return
        connector = ready[0][1].connector
        assert isinstance(connector, BatchedUpsert)
        try:
            records = _read(connector, ref, [row.external_id for row, _ in ready])
        except ConnectorError as exc:
            report.failed.extend(f"{_label(row)}: {exc}" for row, _ in ready)
            return
        to_stamp: list[tuple[MatchProposalRow, Adoption]] = []
        for row, adoption in ready:
            record = records[row.external_id]
            try:
                if isinstance(record, ConnectorError):
                    raise record
                if needs_stamp(adoption, record):
                    to_stamp.append((row, adoption))
                    continue
            except (LinkError, ConnectorError) as exc:
                _not_linked(uow, row, exc, actor, now, report)
                continue
            _book(uow, row, adoption, record, actor, now, report)
        if to_stamp:
            _stamp(uow, connector, ref, to_stamp, actor, now, report)
        uow.commit()


def _read(
    connector: Connector, ref: RecordRef, external_ids: list[str]
) -> dict[str, Record | ConnectorError]:
    """The records of a batch as they are now: in one call where the vendor reads many by
    id, else one by one (a record that cannot be read fails alone)."""
    out: dict[str, Record | ConnectorError] = {}
    if isinstance(connector, BatchedRead):
        with classified(f"reading {len(external_ids)} {ref} record(s)"):
            found = connector.get_many(ref.record_type, external_ids)
        for external_id in external_ids:
            out[external_id] = found.get(external_id) or Permanent(
                f"{ref} {external_id} not found", http_status=404
            )
        return out
    for external_id in external_ids:
        try:
            with classified(f"reading {ref} {external_id}"):
                out[external_id] = connector.get(ref.record_type, external_id)
        except ConnectorError as exc:
            out[external_id] = exc
    return out


def _stamp(
    uow: UnitOfWork,
    connector: BatchedUpsert,
    ref: RecordRef,
    ready: list[tuple[MatchProposalRow, Adoption]],
    actor: str,
    now: datetime,
    report: ApplyReport,
) -> None:
    """One vendor call writes the canonical IDs of ``ready``; each written record is booked."""
    items = [
        UpsertItem(
            record_type=ref.record_type,
            id_field=adoption.id_field,
            canonical_id=row.canonical_id,
            fields={adoption.id_field.name: row.canonical_id},
            idempotency_key=f"match-apply:{row.id}",
            external_id=row.external_id,
        )
        for row, adoption in ready
    ]
    try:
        with classified(f"stamping canonical IDs into {len(items)} {ref} record(s)"):
            results = connector.upsert_many(items)
    except ConnectorError as exc:
        report.failed.extend(f"{_label(row)}: {exc}" for row, _ in ready)
        return
    report.batches += 1
    for (row, adoption), result in zip(ready, results, strict=True):
        if result.error is not None or result.record is None:
            report.failed.append(f"{_label(row)}: {result.error or 'no record returned'}")
            continue
        _book(uow, row, adoption, result.record, actor, now, report)


def _book(
    uow: UnitOfWork,
    row: MatchProposalRow,
    adoption: Adoption,
    record: Record,
    actor: str,
    now: datetime,
    report: ApplyReport,
) -> None:
    book_adoption(uow, adoption, record, actor=actor, now=now)
    _applied(uow, row, actor, now)
    report.applied.append(_label(row))


def _not_linked(
    uow: UnitOfWork,
    row: MatchProposalRow,
    exc: Exception,
    actor: str,
    now: datetime,
    report: ApplyReport,
) -> None:
    """Report a proposal that could not be applied. One whose record carries another
    canonical ID goes back to a person, audited; any other stays accepted, so the next run
    tries again."""
    if not isinstance(exc, CanonicalIdConflict):
        report.failed.append(f"{_label(row)}: {exc}")
        return
    if not uow.matches.settle(row.id, MatchStatus.ACCEPTED.value, MatchStatus.OPEN.value):
        return  # another run settled it meanwhile
    back_to_review(row, str(exc))
    row.decided_by = actor
    row.decided_at = now
    row.reason = str(exc)
    row.updated_at = now
    record_decision(uow, row, REFUSED, actor, str(exc), now)
    report.refused.append(f"{_label(row)}: {exc}")


def _label(row: MatchProposalRow) -> str:
    return f"{row.canonical_id} → {row.ref} {row.external_id}"


def _applied(uow: UnitOfWork, row: MatchProposalRow, actor: str, now: datetime) -> None:
    row.status = MatchStatus.APPLIED.value
    row.applied_at = now
    row.updated_at = now
    record_decision(uow, row, "applied", actor, None, now)


def _ensure_entity(
    store: UnitOfWork,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    entity_name: str,
    row: MatchProposalRow,
    now: datetime,
) -> None:
    """The customer must be in the identity index before a copy can be linked to it: a
    minting record no sync has read yet is read and remembered now."""
    if store.entities.get(row.canonical_id) is not None:
        return
    ref = RecordRef(system=row.source_system, record_type=row.source_record_type)
    connector = connectors.get(ref.system)
    if connector is None:
        raise LinkError(f"no connector for system {ref.system}")
    record = connector.get(ref.record_type, row.source_external_id)
    Identity(integration_map).remember(
        StoreLookups(store), row.canonical_id, entity_name, ref, record, now, minted=True
    )
