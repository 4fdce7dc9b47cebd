"""Adopting a hand-made record: stamp the canonical ID into a record people created by hand.

Before a phase cuts over, accounts may already hold "Acme Limited", typed in by hand, for the
customer the CRM calls "Acme Ltd". Handoff never matches on names at run time; instead a person
says once which record it is, Handoff writes the canonical ID into that record's
canonical-ID field and keeps the link, and from then on every delivery updates that record
instead of creating a second one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from connectors.base import Connector, IdField, Record, classified
from sync_core.identity import id_field_value
from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.naming import with_name
from sync_core.ports import UnitOfWork
from sync_core.store.models import ActionRow, EntityRow, LinkRow


class LinkError(ValueError):
    """The record cannot be adopted (unknown customer, wrong record type, taken already)."""


class CanonicalIdConflict(LinkError):
    """The record carries another canonical ID than the one it was to be given."""


@dataclass(frozen=True)
class Adopted:
    canonical_id: str
    ref: RecordRef
    external_id: str
    display_name: str | None
    url: str | None


@dataclass(frozen=True)
class Adoption:
    """A record found fit to adopt, before anything is written: its customer, the field its
    canonical ID goes into, and whether it is linked already (to this customer)."""

    entity_row: EntityRow
    ref: RecordRef
    external_id: str
    id_field: IdField
    connector: Connector
    linked: bool


def check_adoption(
    uow: UnitOfWork,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    canonical_id: str,
    ref: RecordRef,
    external_id: str,
) -> Adoption:
    """What :func:`adopt_record` checks in the store before it writes: :class:`LinkError`
    when the record cannot be adopted."""
    entity_row = uow.entities.get(canonical_id)
    if entity_row is None:
        raise LinkError(f"no customer {canonical_id}; `handoff where` finds canonical IDs")
    entity = integration_map.entities.get(entity_row.entity)
    id_field = entity.id_field_for(ref) if entity else None
    if entity is None or id_field is None:
        copies = ", ".join(entity.copies) if entity else "none"
        raise LinkError(f"{ref} does not keep a copy of {entity_row.entity} (its copies: {copies})")
    connector = connectors.get(ref.system)
    if connector is None:
        raise LinkError(f"no connector for system {ref.system}")
    taken = uow.links.find(canonical_id, ref.system, ref.record_type)
    if taken is not None and taken.external_id != external_id:
        raise LinkError(
            f"{canonical_id} is linked to {ref} {taken.external_id} already; one record each"
        )
    other = uow.links.by_record(ref.system, ref.record_type, external_id)
    if other is not None and other.canonical_id != canonical_id:
        raise LinkError(f"{ref} {external_id} belongs to {other.canonical_id}")
    return Adoption(entity_row, ref, external_id, id_field, connector, other is not None)


def needs_stamp(adoption: Adoption, record: Record) -> bool:
    """Whether ``record``, as just read, still lacks its canonical ID;
    :class:`CanonicalIdConflict` when it carries another one (typed by hand, or stamped by
    another process since it was matched): that is never overwritten."""
    canonical_id = adoption.entity_row.canonical_id
    stamped = id_field_value(record, adoption.id_field)
    if stamped not in (None, canonical_id):
        raise CanonicalIdConflict(
            f"{adoption.ref} {adoption.external_id} carries the canonical ID {stamped} already"
        )
    return stamped is None


def book_adoption(
    uow: UnitOfWork, adoption: Adoption, record: Record, *, actor: str, now: datetime
) -> Adopted:
    """The link and the audit line of a record that now carries its canonical ID."""
    canonical_id, ref = adoption.entity_row.canonical_id, adoption.ref
    if not adoption.linked:
        uow.links.add(
            LinkRow(
                canonical_id=canonical_id,
                system=ref.system,
                record_type=ref.record_type,
                external_id=adoption.external_id,
                url=record.url,
                display_name=record.display_name,
                created_at=now,
                updated_at=now,
            )
        )
    row = adoption.entity_row
    row.search_name = with_name(row.search_name, record.display_name)
    uow.actions.add(
        ActionRow(
            at=now,
            actor=actor,
            action="adopt",
            subject=f"{canonical_id}",
            detail={"record": str(ref), "external_id": adoption.external_id},
            allowed=True,
        )
    )
    return Adopted(canonical_id, ref, adoption.external_id, record.display_name, record.url)


def adopt_record(
    uow: UnitOfWork,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    canonical_id: str,
    ref: RecordRef,
    external_id: str,
    *,
    actor: str,
    now: datetime,
) -> Adopted:
    """Stamp ``canonical_id`` into the existing record ``ref``/``external_id`` and link it.
    Writes to the vendor; the caller commits."""
    adoption = check_adoption(uow, integration_map, connectors, canonical_id, ref, external_id)
    connector, id_field = adoption.connector, adoption.id_field
    with classified(f"reading {ref} {external_id}"):
        record = connector.get(ref.record_type, external_id)
    if needs_stamp(adoption, record):
        field_name = id_field.name
        with classified(f"stamping the canonical ID into {ref} {external_id}"):
            record = connector.update(ref.record_type, external_id, {field_name: canonical_id})
    return book_adoption(uow, adoption, record, actor=actor, now=now)


@dataclass(frozen=True)
class Unlinked:
    canonical_id: str
    ref: RecordRef
    external_id: str


def unlink_record(
    uow: UnitOfWork,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    canonical_id: str,
    ref: RecordRef,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> Unlinked:
    """Undo a wrong link: clear the canonical ID from the record ``ref`` holds for
    ``canonical_id`` and drop the link, so syncs no longer write into it. The audit trail
    (actions, match decisions) is kept. Writes to the vendor; the caller commits."""
    entity_row = uow.entities.get(canonical_id)
    if entity_row is None:
        raise LinkError(f"no customer {canonical_id}; `handoff where` finds canonical IDs")
    entity = integration_map.entities.get(entity_row.entity)
    id_field = entity.id_field_for(ref) if entity else None
    if entity is None or id_field is None:
        raise LinkError(
            f"{ref} is not a copy of {entity_row.entity}: the minting record is the customer "
            "itself and cannot be unlinked"
        )
    link = uow.links.find(canonical_id, ref.system, ref.record_type)
    if link is None:
        raise LinkError(f"{canonical_id} has no link in {ref}")
    connector = connectors.get(ref.system)
    if connector is None:
        raise LinkError(f"no connector for system {ref.system}")
    record = connector.get(ref.record_type, link.external_id)
    if id_field_value(record, id_field) == canonical_id:
        field_name = id_field.name
        connector.update(ref.record_type, link.external_id, {field_name: ""})
    uow.links.remove(link)
    _reject_proposals(uow, canonical_id, ref, link.external_id, actor, reason, now)
    uow.actions.add(
        ActionRow(
            at=now,
            actor=actor,
            action="unlink",
            subject=canonical_id,
            reason=reason,
            detail={"record": str(ref), "external_id": link.external_id},
            allowed=True,
        )
    )
    return Unlinked(canonical_id, ref, link.external_id)


def _reject_proposals(
    uow: UnitOfWork,
    canonical_id: str,
    ref: RecordRef,
    external_id: str,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    """A match that was applied and then undone must not be applied again by the next run."""
    from sync_core.store.models import MatchDecisionRow, MatchStatus

    for row in uow.matches.for_record(ref.system, ref.record_type, external_id):
        if row.canonical_id != canonical_id:
            continue
        row.status = MatchStatus.REJECTED.value
        row.decided_by = actor
        row.decided_at = now
        row.reason = reason
        row.updated_at = now
        uow.matches.add_decision(
            MatchDecisionRow(
                proposal_id=row.id, decision="unlinked", actor=actor, reason=reason, at=now
            )
        )
