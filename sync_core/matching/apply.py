"""Applying accepted proposals: stamp the canonical ID into each record and store the link.

One proposal per transaction, so a crash loses at most the one in hand; re-running finds the
canonical ID already stamped in that record (adopting it writes nothing then) and goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import Connector, ConnectorError
from sync_core.identity import Identity
from sync_core.linking import LinkError, adopt_record
from sync_core.lookups import StoreLookups
from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.matching.service import record_decision
from sync_core.phases import settle_review
from sync_core.ports import UnitOfWork, UnitOfWorkFactory
from sync_core.store.models import MatchProposalRow, MatchStatus


@dataclass
class ApplyReport:
    applied: list[str] = field(default_factory=list)  # "PD-1 → xero.contact 7"
    failed: list[str] = field(default_factory=list)  # with the reason


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
    """Stamp and link every accepted proposal of the entity, each in its own transaction;
    ``only``: those of these record types."""
    report = ApplyReport()
    with uow_factory() as uow:
        ids = [
            row.id
            for row in uow.matches.for_entity(entity_name, [MatchStatus.ACCEPTED])
            if only is None or RecordRef(system=row.system, record_type=row.record_type) in only
        ]
    for proposal_id in ids:
        with uow_factory() as uow:
            row = uow.matches.get(proposal_id)
            if row is None or row.status != MatchStatus.ACCEPTED.value:
                continue  # another run applied it meanwhile
            now = clock()
            label = f"{row.canonical_id} → {row.ref} {row.external_id}"
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
                report.failed.append(f"{label}: {exc}")
                continue
            row.status = MatchStatus.APPLIED.value
            row.applied_at = now
            row.updated_at = now
            record_decision(uow, row, "applied", actor, None, now)
            uow.commit()
            report.applied.append(label)
    if report.applied:
        with uow_factory() as uow:
            # the last link a held phase waited for: its first-start alert says it is ready
            settle_review(uow, integration_map, actor=actor, now=clock())
            uow.commit()
    return report


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
