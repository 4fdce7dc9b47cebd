"""The identity index: which canonical ID a record carries, and where each customer lives.

A record of the minting record type gets its canonical ID minted from its own id; a copy
carries it in its canonical-ID field (or, for a record Handoff wrote, in an earlier link).
Every record seen is remembered as a link, and every name a customer goes by is kept for
search. Nothing here matches records by name: a canonical ID is minted or read, never guessed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.base import Record, canonical_field
from sync_core.expressions import RECORD, ExpressionError, render_value
from sync_core.map.model import Entity, Flow, IntegrationMap, RecordRef
from sync_core.minting import canonical_id_for, minting_external_id
from sync_core.naming import search_key, with_name
from sync_core.ports import UnitOfWork
from sync_core.store.models import EntityRow, LinkRow


def record_context(record: Record) -> dict[str, Any]:
    """What expressions see: the record's fields plus ``id``, ``url`` and ``display_name``,
    and ``record``, the fields by name, for a name that is not a Jinja name
    (``{{ record["Client code"] }}``)."""
    context = dict(record.fields)
    context.setdefault("id", record.external_id)
    context.setdefault("url", record.url)
    context.setdefault("display_name", record.display_name)
    context.setdefault(RECORD, dict(record.fields))
    return context


def id_field_value(record: Record, id_field: str) -> str | None:
    name = canonical_field(id_field)
    value = record.fields.get(name) if name else None
    return str(value) if value not in (None, "") else None


class Identity:
    """Resolves canonical IDs and keeps the identity index (entities and links) current."""

    def __init__(self, integration_map: IntegrationMap) -> None:
        self.map = integration_map

    def canonical_id_of(
        self, uow: UnitOfWork, ref: RecordRef, record: Record, now: datetime
    ) -> tuple[str, str, Entity] | None:
        """(canonical ID, entity name, entity) of a source record, minting it when ``ref`` is
        the entity's minting record type; ``None`` for a copy that carries no canonical ID."""
        found = self.map.entity_of(ref)
        if found is None:
            return None
        name, entity = found
        if entity.canonical_id.minted_by == ref:
            display = self.entity_name(name, record) or record.display_name
            canonical_id = canonical_id_for(uow, name, entity, record.external_id, display, now)
            self.remember(uow, canonical_id, name, ref, record, now, minted=True)
            return canonical_id, name, entity
        id_field = entity.id_field_for(ref)
        copied_id = id_field_value(record, id_field) if id_field else None
        if copied_id is None:
            link = uow.links.by_record(ref.system, ref.record_type, record.external_id)
            copied_id = link.canonical_id if link else None
        if copied_id is None:
            return None
        self.remember(uow, copied_id, name, ref, record, now, minted=False)
        return copied_id, name, entity

    def remember(
        self,
        uow: UnitOfWork,
        canonical_id: str,
        entity: str,
        ref: RecordRef,
        record: Record,
        now: datetime,
        *,
        minted: bool,
    ) -> None:
        row = uow.entities.get(canonical_id)
        display = record.display_name or ""
        if minted:
            display = self.entity_name(entity, record) or display
        if row is None:
            row = EntityRow(
                canonical_id=canonical_id,
                entity=entity,
                display_name=display,
                search_name=with_name(search_key(canonical_id), display),
                minted_by=str(ref),
                created_at=now,
                updated_at=now,
            )
            uow.entities.add(row)
            uow.flush()
        elif minted and display and row.display_name != display:
            row.display_name = display
            row.updated_at = now
        row.search_name = with_name(with_name(row.search_name, display), record.display_name)
        link = uow.links.by_record(ref.system, ref.record_type, record.external_id)
        if link is None:
            uow.links.add(
                LinkRow(
                    canonical_id=canonical_id,
                    system=ref.system,
                    record_type=ref.record_type,
                    external_id=record.external_id,
                    url=record.url,
                    display_name=record.display_name,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif link.url != record.url or link.display_name != record.display_name:
            link.url = record.url or link.url
            link.display_name = record.display_name or link.display_name
            link.updated_at = now

    def entity_name(self, entity: str, record: Record) -> str | None:
        """The entity's display name from its minting record (``display_name:`` template)."""
        spec = self.map.entities.get(entity)
        if spec is None or not spec.display_name:
            return None
        try:
            value = render_value(spec.display_name, record_context(record))
        except ExpressionError:
            return None
        return str(value) if value not in (None, "") else None

    def target_of(
        self, uow: UnitOfWork, flow: Flow, entity: Entity, canonical_id: str, record: Record
    ) -> tuple[str, str | None, str | None] | None:
        """(target canonical ID, id field, known target external id) for a flow's target.

        The target holds either the same entity as the source or its parent (an invoice
        writes to its client's deal); ``None`` when the parent cannot be found yet.
        """
        assert flow.target is not None
        target_entity = self.map.entity_of(flow.target)
        if target_entity is None:
            return None
        target_name, target_spec = target_entity
        target_cid = canonical_id
        if target_spec is not entity:
            parent = entity.parent
            if parent is None or parent.entity != target_name:
                return None
            parent_external = render_value(parent.via, record_context(record))
            if parent_external in (None, ""):
                return None
            link = uow.links.by_record(
                parent.record.system, parent.record.record_type, str(parent_external)
            )
            if link is None:
                return None
            target_cid = link.canonical_id
        id_field = target_spec.id_field_for(flow.target)
        known = uow.links.find(target_cid, flow.target.system, flow.target.record_type)
        external_id = known.external_id if known else None
        if id_field is None and external_id is None:
            # The target is the minting system: its id is inside the canonical ID.
            external_id = minting_external_id(uow, target_spec, target_cid)
        return target_cid, id_field, external_id
