"""The identity index: which canonical ID a record carries, and where each customer lives.

A record of the minting record type gets its canonical ID minted from its own id; a copy
carries it in its canonical-ID field (or, for a record Handoff wrote, in an earlier link).
Every record seen is remembered as a link, and every name a customer goes by is kept for
search. Nothing here matches records by name: a canonical ID is minted or read, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from connectors.base import IdField, Record
from sync_core.expressions import RECORD, ExpressionError, render_value
from sync_core.lookups import Lookups
from sync_core.map.model import Entity, Flow, IntegrationMap, RecordRef
from sync_core.minting import canonical_id_for, minting_external_id
from sync_core.naming import search_key, with_name
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


def id_field_value(record: Record, id_field: IdField) -> str | None:
    """The canonical ID ``record`` carries in ``id_field`` (None: none yet)."""
    value = record.fields.get(id_field.name)
    return str(value) if value not in (None, "") else None


class Identity:
    """Resolves canonical IDs and keeps the identity index (entities and links) current."""

    def __init__(self, integration_map: IntegrationMap) -> None:
        self.map = integration_map

    def resolve(
        self, look: Lookups, ref: RecordRef, record: Record, now: datetime | None = None
    ) -> tuple[str, str, Entity, bool] | None:
        """(canonical ID, entity name, entity, minted here) of a source record, without
        remembering anything; ``None`` for a copy that carries no canonical ID. A short-code
        format claims a new code in the store only when ``now`` is given (when planning, not
        when a page's keys are gathered ahead)."""
        found = self.map.entity_of(ref)
        if found is None:
            return None
        name, entity = found
        if entity.canonical_id.minted_by == ref:
            spec = entity.canonical_id
            if spec.code_length is None:
                return spec.mint(record.external_id), name, entity, True
            # a short code: the one the minting record has, else one claimed in the store now
            link = look.link_of_record(ref.system, ref.record_type, record.external_id)
            if link is not None:
                return link.canonical_id, name, entity, True
            if now is None:
                return None
            display = self.entity_name(name, record) or record.display_name
            code = canonical_id_for(look.uow, name, entity, record.external_id, display, now)
            look.claimed(code, ref.system, ref.record_type, record.external_id)
            return code, name, entity, True
        id_field = entity.id_field_for(ref)
        copied_id = id_field_value(record, id_field) if id_field else None
        if copied_id is None:
            link = look.link_of_record(ref.system, ref.record_type, record.external_id)
            copied_id = link.canonical_id if link else None
        if copied_id is None:
            return None
        return copied_id, name, entity, False

    def canonical_id_of(
        self, look: Lookups, ref: RecordRef, record: Record, now: datetime
    ) -> tuple[str, str, Entity] | None:
        """(canonical ID, entity name, entity) of a source record, minting it when ``ref`` is
        the entity's minting record type (see :meth:`resolve`), and remembered."""
        found = self.resolve(look, ref, record, now)
        if found is None:
            return None
        canonical_id, name, entity, minted = found
        self.remember(look, canonical_id, name, ref, record, now, minted=minted)
        return canonical_id, name, entity

    def page_keys(self, look: Lookups, ref: RecordRef, records: Iterable[Record]) -> set[str]:
        """The canonical IDs a page of ``ref`` records carries (as far as they resolve)."""
        keys = set()
        for record in records:
            try:
                found = self.resolve(look, ref, record)
            except Exception:  # planning the record reports it
                continue
            if found is not None:
                keys.add(found[0])
        return keys

    def remember(
        self,
        look: Lookups,
        canonical_id: str,
        entity: str,
        ref: RecordRef,
        record: Record,
        now: datetime,
        *,
        minted: bool,
    ) -> None:
        row = look.entity(canonical_id)
        display = record.display_name or ""
        if minted:
            display = self.entity_name(entity, record) or display
        if row is None:
            # Every name it goes by at once: no update right after the insert.
            names = with_name(with_name(search_key(canonical_id), display), record.display_name)
            look.add_entity(
                EntityRow(
                    canonical_id=canonical_id,
                    entity=entity,
                    display_name=display,
                    search_name=names,
                    minted_by=str(ref),
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            if minted and display and row.display_name != display:
                row.display_name = display
                row.updated_at = now
            names = with_name(with_name(row.search_name, display), record.display_name)
            if names != row.search_name:
                row.search_name = names
        link = look.link_of_record(ref.system, ref.record_type, record.external_id)
        if link is None:
            look.add_link(
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
        self, look: Lookups, flow: Flow, entity: Entity, canonical_id: str, record: Record
    ) -> tuple[str, IdField | None, str | None] | None:
        """(target canonical ID, id field, known target external id) for a flow's target.

        The target holds either the same entity as the source, its parent (an invoice writes
        to its client's deal) or, when the child entity names a ``parent.id_field``, a child
        (a won deal writes its draft invoice, found by the deal's canonical ID in that field);
        ``None`` when the parent cannot be found yet.
        """
        assert flow.target is not None
        target_entity = self.map.entity_of(flow.target)
        if target_entity is None:
            return None
        target_name, target_spec = target_entity
        target_cid = canonical_id
        child = target_spec.parent
        if (
            target_spec is not entity
            and child is not None
            and child.id_field is not None
            and self.map.entities.get(child.entity) is entity
        ):
            # A child written from its parent (a won deal's draft invoice): one per parent,
            # addressed by the parent's canonical ID in the child's id field.
            known = look.link_in(canonical_id, flow.target.system, flow.target.record_type)
            return canonical_id, child.id_field, known.external_id if known else None
        if target_spec is not entity:
            parent = entity.parent
            if parent is None or parent.entity != target_name:
                return None
            parent_external = render_value(parent.via, record_context(record))
            if parent_external in (None, ""):
                return None
            link = look.link_of_record(
                parent.record.system, parent.record.record_type, str(parent_external)
            )
            if link is None:
                return None
            target_cid = link.canonical_id
        id_field = target_spec.id_field_for(flow.target)
        known = look.link_in(target_cid, flow.target.system, flow.target.record_type)
        external_id = known.external_id if known else None
        if id_field is None and external_id is None:
            # The target is the minting system: its id is inside the canonical ID.
            external_id = minting_external_id(look.uow, target_spec, target_cid)
        return target_cid, id_field, external_id
