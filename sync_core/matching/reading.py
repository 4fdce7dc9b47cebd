"""Reading an entity's records for matching: a full, paged read through the connector
(``list_changed`` from no cursor), each record reduced to its match keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connectors.base import Connector, Record
from sync_core.expressions import ExpressionError, render_value
from sync_core.identity import Identity, id_field_value, record_context
from sync_core.map.model import Entity, IntegrationMap, RecordRef
from sync_core.matching.keys import NAME, MatchRecord, match_record

PAGE = 100


@dataclass(frozen=True)
class ReadRecords:
    """The records of one record type: those still to match, and how many were set aside
    because they carry (or are linked to) a canonical ID already."""

    ref: RecordRef
    records: list[MatchRecord]
    carrying: set[str]  # external ids that already carry a canonical ID


def read_all(
    connector: Connector, record_type: str, progress: Callable[[int], None] | None = None
) -> list[Record]:
    """Every record of ``record_type``, page by page."""
    records: list[Record] = []
    cursor: str | None = None
    while True:
        page = connector.list_changed(record_type, cursor, limit=PAGE)
        records.extend(page.records)
        if progress is not None:
            progress(len(page.records))
        if not page.has_more or page.cursor == cursor:
            return records
        cursor = page.cursor


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
    return match_record(ref.system, ref.record_type, record.external_id, display, values)


def carries_canonical_id(entity: Entity, ref: RecordRef, record: Record) -> bool:
    id_field = entity.id_field_for(ref)
    return id_field is not None and id_field_value(record, id_field) is not None
