"""Placeholder on the wiring branch: replaced by the store-side implementation on merge."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sync_core.map.model import RecordRef
from sync_core.matching.clusters import Candidate, Thresholds, propose
from sync_core.matching.keys import MatchRecord
from sync_core.matching.reading import from_row, record_row
from sync_core.ports import UnitOfWork


def keep_records(
    uow: UnitOfWork, entity_name: str, matches: Sequence[MatchRecord], read_at: datetime
) -> None:
    uow.matches.put_records([record_row(entity_name, match, read_at) for match in matches])


def propose_from_store(
    uow: UnitOfWork,
    entity_name: str,
    left: tuple[RecordRef, datetime],
    right: tuple[RecordRef, datetime],
    thresholds: Thresholds,
    keys: tuple[str, ...] | None,
) -> list[Candidate]:
    (lref, lsince), (rref, rsince) = left, right
    sources = [
        from_row(r)
        for r in uow.matches.records_read(entity_name, lref.system, lref.record_type, lsince)
    ]
    copies = [
        from_row(r)
        for r in uow.matches.records_read(entity_name, rref.system, rref.record_type, rsince)
    ]
    linked = {
        row.external_id
        for row in uow.links.by_records(
            rref.system, rref.record_type, [c.external_id for c in copies]
        )
    }
    copies = [c for c in copies if c.external_id not in linked]
    sources.sort(key=lambda m: m.external_id)
    copies.sort(key=lambda m: m.external_id)
    return propose(sources, copies, thresholds, keys)
