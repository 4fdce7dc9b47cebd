"""Reading an entity's records for matching: a full, paged read through the connector
(``list_changed`` from no cursor), each record reduced to its match keys."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from connectors.base import Connector, Record
from sync_core.expressions import ExpressionError, render_value
from sync_core.identity import Identity, id_field_value, record_context
from sync_core.map.model import Entity, IntegrationMap, RecordRef
from sync_core.matching.keys import (
    NAME,
    MatchRecord,
    dump_normalised,
    load_normalised,
    match_record,
    raw,
)
from sync_core.ports import UnitOfWork
from sync_core.store.models import KeptRecord, MatchRecordRow

PAGE = 100


@dataclass
class ReadRecords:
    """One record type read for matching. Its records are kept in the store as they are
    read (reduced to their match keys, with ``read_at`` at or after ``since``), never held
    here: this counts them, and says which read they belong to."""

    ref: RecordRef
    since: datetime  # the read's records are those kept at or after it
    kept: int = 0  # kept in the store (a resumed read's earlier pages included)
    carrying: int = 0  # copies set aside because they carry a canonical ID already
    pages: int = 0  # pages read by this run (not those a resumed read had read before)
    # the records of proposals apply refused, watched for: is each still there? (those of
    # them read, kept or set aside; unknown for a read resumed after a crash)
    watched: frozenset[str] = frozenset()
    seen: set[str] = field(default_factory=set)
    resumed: bool = False

    @property
    def total(self) -> int:
        return self.kept + self.carrying

    def gone(self, external_id: str) -> bool:
        """Whether the record is known to be gone: watched from the start of a read in full,
        and not read."""
        return not self.resumed and external_id in self.watched and external_id not in self.seen

    def add(
        self,
        integration_map: IntegrationMap,
        entity_name: str,
        records: Iterable[Record],
    ) -> list[MatchRecord]:
        """Reduce a page of ``records`` to the ones to keep (a copy carrying a canonical ID
        is only counted) and count them; the caller keeps them in the store."""
        entity = integration_map.entities[entity_name]
        copy = self.ref != entity.canonical_id.minted_by
        kept = []
        for record in records:
            if record.external_id in self.watched:
                self.seen.add(record.external_id)
            if copy and carries_canonical_id(entity, self.ref, record):
                self.carrying += 1
                continue
            kept.append(to_match_record(integration_map, entity_name, self.ref, record))
        self.kept += len(kept)
        return kept


def begin_read(
    uow: UnitOfWork, entity_name: str, ref: RecordRef, now: datetime, since: datetime | None = None
) -> ReadRecords:
    """A new read of ``ref`` (``since``: the start of the read it resumes), watching for the
    records of proposals apply refused."""
    return ReadRecords(
        ref,
        since or read_start(uow, entity_name, ref, now),
        watched=frozenset(uow.matches.refused_records(entity_name, ref.system, ref.record_type)),
    )


def read_start(uow: UnitOfWork, entity_name: str, ref: RecordRef, now: datetime) -> datetime:
    """When a new read of ``ref`` begins: ``now``, or just after the last read kept when that
    is not earlier (a clock that stands still, or one set back), so every record an earlier
    read kept, one the vendor has deleted since too, is told apart from this read's."""
    last = uow.matches.last_read(entity_name, ref.system, ref.record_type)
    if last is not None and last >= now:
        return last + timedelta(microseconds=1)
    return now


def read_pages(
    connector: Connector, record_type: str, progress: Callable[[int], None] | None = None
) -> Iterator[Sequence[Record]]:
    """Every record of ``record_type``, a page at a time: a caller that reduces each page as
    it arrives never holds every full record of a large system at once."""
    cursor: str | None = None
    while True:
        page = connector.list_changed(record_type, cursor, limit=PAGE)
        if progress is not None:
            progress(len(page.records))
        yield page.records
        if not page.has_more or page.cursor == cursor:
            return
        cursor = page.cursor


def read_all(
    connector: Connector, record_type: str, progress: Callable[[int], None] | None = None
) -> list[Record]:
    """Every record of ``record_type``, page by page, in one list (for a small read)."""
    return [record for page in read_pages(connector, record_type, progress) for record in page]


def to_match_record(
    integration_map: IntegrationMap, entity_name: str, ref: RecordRef, record: Record
) -> MatchRecord:
    """``record`` reduced to the keys the entity's ``match:`` section names for ``ref``."""
    entity = integration_map.entities[entity_name]
    context = record_context(record)
    values: dict[str, object] = {}
    for key, template in entity.match.key_templates(ref).items():
        try:
            values[key] = render_value(template, context)
        except ExpressionError:
            values[key] = None  # a record the key cannot be read from is compared without it
    display = record.display_name
    if ref == entity.canonical_id.minted_by:
        display = Identity(integration_map).entity_name(entity_name, record) or display
    values.setdefault(NAME, display)
    found = match_record(ref.system, ref.record_type, record.external_id, display, values)
    return replace(found, url=record.url)


def record_row(entity_name: str, match: MatchRecord, read_at: datetime) -> MatchRecordRow:
    """What the store keeps of a record read for matching (for review, and for a read that
    resumes after a crash)."""
    return MatchRecordRow(
        entity=entity_name,
        system=match.system,
        record_type=match.record_type,
        external_id=match.external_id,
        display_name=match.display_name,
        url=match.url,
        keys={k: str(v) for k, v in match.raw.items()},
        normalised=dump_normalised(match),
        read_at=read_at,
    )


def from_row(row: MatchRecordRow | KeptRecord) -> MatchRecord:
    """The record as :func:`to_match_record` made it, from what the store kept of it: its
    normalised name and keys as kept, normalised again only for a row kept without them
    (before the store kept them)."""
    if row.normalised is None:
        found = match_record(
            row.system, row.record_type, row.external_id, row.display_name, row.keys
        )
        return replace(found, url=row.url)
    name, keys = load_normalised(row.normalised)
    return MatchRecord(
        row.system,
        row.record_type,
        row.external_id,
        row.display_name,
        name,
        keys,
        raw(row.keys),
        row.url,
    )


def carries_canonical_id(entity: Entity, ref: RecordRef, record: Record) -> bool:
    id_field = entity.id_field_for(ref)
    return id_field is not None and id_field_value(record, id_field) is not None
