"""A full read for matching that survives a crash part-way.

``handoff match ENTITY`` on a large system reads every record of the entity, page by page.
Each page's records are kept in the store (reduced to their match keys, as review needs them
anyway) in the same transaction as a checkpoint: the vendor's cursor after that page. A run
that dies (a fault, a deploy, Ctrl-C) leaves the checkpoint; the next run reads on from it and
takes the pages read before from the store, so it reads only the rest and proposes the same.
The checkpoints are cleared with the proposals they led to; one older than a day is not
resumed (the records may have changed since), the read starts again.

The checkpoint is a row of the cursors table under its own key (``deal#match:client``), so it
never mixes with the cursor change detection moves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.base import Connector, classified
from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.matching.from_store import keep_records
from sync_core.matching.reading import PAGE, ReadRecords, begin_read, read_start
from sync_core.matching.service import (
    MatchReport,
    any_copy_free,
    connector_for,
    entity_to_match,
    refs_to_read,
    run_match,
)
from sync_core.matching.storing import REPORT_ROWS
from sync_core.ports import UnitOfWork, UnitOfWorkFactory

CHECKPOINT = "#match:"
RESUME_WITHIN = timedelta(days=1)


@dataclass
class Checkpoint:
    """How far the read of one record type got: the cursor of its next page."""

    started_at: datetime  # the read's records are kept with a time at or after it
    cursor: str | None = None
    pages: int = 0
    carrying: int = 0  # copies set aside because they carry a canonical ID already
    done: bool = False

    def dump(self) -> str:
        return json.dumps(
            {
                "started_at": self.started_at.isoformat(),
                "cursor": self.cursor,
                "pages": self.pages,
                "carrying": self.carrying,
                "done": self.done,
            }
        )

    @classmethod
    def load(cls, text: str) -> Checkpoint:
        data = json.loads(text)
        return cls(
            started_at=datetime.fromisoformat(data["started_at"]),
            cursor=data["cursor"],
            pages=int(data["pages"]),
            carrying=int(data["carrying"]),
            done=bool(data["done"]),
        )


def checkpoint_key(entity_name: str, ref: RecordRef) -> str:
    return f"{ref.record_type}{CHECKPOINT}{entity_name}"


def checkpoint(uow: UnitOfWork, entity_name: str, ref: RecordRef) -> Checkpoint | None:
    """The read of ``ref`` a run left unfinished (or finished without storing proposals)."""
    text = uow.cursors.get(ref.system, checkpoint_key(entity_name, ref))
    return Checkpoint.load(text) if text else None


def read_resumable(
    uow_factory: UnitOfWorkFactory,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    entity_name: str,
    *,
    clock: Callable[[], datetime],
    progress: Callable[[str, int], None] | None = None,
    only: Collection[RecordRef] | None = None,
    page_size: int = PAGE,
) -> dict[RecordRef, ReadRecords]:
    """Read every record :func:`run_match` compares, each page committed with its checkpoint;
    a read left unfinished by an earlier run goes on from its checkpoint. The copies first:
    the minting side is read only when some copy is free to match."""
    minted_by, *copy_refs = refs_to_read(entity_to_match(integration_map, entity_name), only)

    def read(ref: RecordRef) -> ReadRecords:
        return _read_one(
            uow_factory, integration_map, connectors, entity_name, ref, clock, progress, page_size
        )

    found = {ref: read(ref) for ref in copy_refs}
    if any_copy_free(uow_factory, entity_name, found.values()):
        found[minted_by] = read(minted_by)
    return found


def _read_one(
    uow_factory: UnitOfWorkFactory,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    entity_name: str,
    ref: RecordRef,
    clock: Callable[[], datetime],
    progress: Callable[[str, int], None] | None,
    page_size: int,
) -> ReadRecords:
    connector = connector_for(connectors, ref)
    key = checkpoint_key(entity_name, ref)
    now = clock()
    with uow_factory() as uow:
        mark = checkpoint(uow, entity_name, ref)
        if mark is None or now - mark.started_at > RESUME_WITHIN:
            mark = Checkpoint(started_at=read_start(uow, entity_name, ref, now))
        found = begin_read(uow, entity_name, ref, now, since=mark.started_at)
    while not mark.done:
        with classified(f"reading {ref} to reconcile {entity_name}"):
            page = connector.list_changed(ref.record_type, mark.cursor, limit=page_size)
        before = found.carrying
        kept = found.add(integration_map, entity_name, page.records)
        mark.carrying += found.carrying - before
        mark.pages += 1
        mark.done = not page.has_more or page.cursor == mark.cursor
        mark.cursor = page.cursor
        found.pages += 1
        with uow_factory() as uow:
            keep_records(uow, entity_name, kept, max(clock(), mark.started_at))
            uow.cursors.put(ref.system, key, mark.dump(), max(clock(), mark.started_at))
            uow.commit()
        if progress is not None:
            progress(str(ref), len(page.records))
    # every page's records, as kept: those of this run and those of the run that died (an
    # older read's are older than the checkpoint; a run reading at the same moment keeps
    # the same records, none of them older)
    with uow_factory() as uow:
        found.kept, _ = uow.matches.count_read(
            entity_name, ref.system, ref.record_type, mark.started_at
        )
    found.carrying = mark.carrying
    found.resumed = mark.pages > found.pages
    return found


def clear_checkpoints(
    uow: UnitOfWork, entity_name: str, refs: Collection[RecordRef], now: datetime
) -> None:
    """The proposals are stored: the next run reads from the start again."""
    for ref in refs:
        uow.cursors.put(ref.system, checkpoint_key(entity_name, ref), None, now)


def match_entity(
    uow_factory: UnitOfWorkFactory,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    entity_name: str,
    *,
    clock: Callable[[], datetime],
    progress: Callable[[str, int], None] | None = None,
    page_size: int = PAGE,
    keep_rows: int | None = REPORT_ROWS,
) -> MatchReport:
    """``handoff match ENTITY``: a resumable read, then the proposals stored (and the read's
    checkpoints cleared, those of a record type not read this time too) in one transaction."""
    read = read_resumable(
        uow_factory,
        integration_map,
        connectors,
        entity_name,
        clock=clock,
        progress=progress,
        page_size=page_size,
    )
    with uow_factory() as uow:
        report = run_match(
            uow,
            integration_map,
            connectors,
            entity_name,
            now=clock(),
            read_before=read,
            keep_rows=keep_rows,
        )
        refs = refs_to_read(entity_to_match(integration_map, entity_name))
        clear_checkpoints(uow, entity_name, refs, clock())
        uow.commit()
    return report
