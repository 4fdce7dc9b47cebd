"""Merge: fold a record typed by hand into the customer's own record of the same type, where
the vendor merges records (Pipedrive merges organizations, persons and deals).

The customer's linked record is kept (its canonical ID, its link, its values first); the typed
one is merged into it and disappears from the vendor. Where the vendor has no merge, the
alert says to archive the extra copy by hand instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from connectors.base import Connector, classified
from connectors.capabilities import Merge
from sync_core.map.model import RecordRef
from sync_core.matching.decisions import record_decision
from sync_core.ports import UnitOfWork
from sync_core.store.models import ActionRow, MatchProposalRow, MatchStatus


class MergeError(ValueError):
    """Nothing to merge into, or a system that cannot merge."""


@dataclass(frozen=True)
class Merged:
    canonical_id: str
    ref: RecordRef
    kept_id: str
    merged_id: str


def merge_typed(
    uow: UnitOfWork,
    connectors: Mapping[str, Connector],
    row: MatchProposalRow,
    *,
    actor: str,
    now: datetime,
) -> Merged:
    """Merge the proposal's typed record into the customer's linked record of that type;
    audited, the proposal marked merged. Writes to the vendor; the caller commits."""
    ref = RecordRef(system=row.system, record_type=row.record_type)
    connector = connectors.get(row.system)
    if not isinstance(connector, Merge):
        raise MergeError(f"{row.system} cannot merge records: archive the extra one there")
    kept = uow.links.find(row.canonical_id, row.system, row.record_type)
    if kept is None:
        raise MergeError(
            f"{row.canonical_id} has no {ref} of its own to merge into: Link adopts this one"
        )
    if kept.external_id == row.external_id:
        raise MergeError(f"{ref} {row.external_id} is {row.canonical_id}'s own record")
    with classified(f"merging {ref} {row.external_id} into {kept.external_id}"):
        record = connector.merge(row.record_type, kept.external_id, row.external_id)
    kept.display_name = record.display_name or kept.display_name
    kept.url = record.url or kept.url
    kept.updated_at = now
    row.status = MatchStatus.MERGED.value
    row.decided_by = actor
    row.decided_at = row.applied_at = row.updated_at = now
    record_decision(uow, row, "merged", actor, f"merged into {ref} {kept.external_id}", now)
    uow.actions.add(
        ActionRow(
            at=now,
            actor=actor,
            action="merge",
            subject=row.canonical_id,
            detail={"record": str(ref), "kept": kept.external_id, "merged": row.external_id},
            allowed=True,
        )
    )
    return Merged(row.canonical_id, ref, kept.external_id, row.external_id)
