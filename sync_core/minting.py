"""Minting canonical IDs: the minting record's own id (``PD-{id}``), or a short code people
can type (``C-{code}``: ``C-7K2Q``).

A short code is drawn from a hash of the minting record's id, so the same record always
tries the same codes in the same order; the first one no other customer holds is claimed by
inserting the customer's row (the canonical ID is its primary key), so two processes minting
at once cannot hand one code to two customers: the second insert fails and tries the next.
Once claimed, the code lives in the minting record's link and never changes, whatever the
format says later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from sync_core.map.model import Entity
from sync_core.naming import search_key, with_name
from sync_core.ports import UnitOfWork
from sync_core.store.models import EntityRow, LinkRow

# Crockford's base 32: no I, L, O or U, so a code read aloud or retyped stays one code.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_ATTEMPTS = 64

CodeSource = Callable[[str, int, int], str]


class MintError(RuntimeError):
    """No free short code was found (the format's codes are too short for the customers)."""


def short_code(external_id: str, attempt: int, length: int) -> str:
    """The ``attempt``-th code of ``length`` characters for the minting record ``external_id``."""
    digest = hashlib.sha256(f"{attempt}:{external_id}".encode()).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[index])
    return "".join(chars)


def canonical_id_for(
    uow: UnitOfWork,
    entity_name: str,
    entity: Entity,
    external_id: str,
    display_name: str | None,
    now: datetime,
    *,
    codes: CodeSource = short_code,
) -> str:
    """The canonical ID of the minting record ``external_id``: the one it has, or a new one.
    A short code is claimed in the store here (the customer's row and the minting record's
    link); the caller commits."""
    spec = entity.canonical_id
    length = spec.code_length
    if length is None:
        return spec.mint(external_id)
    ref = spec.minted_by
    link = uow.links.by_record(ref.system, ref.record_type, external_id)
    if link is not None:
        return link.canonical_id
    display = display_name or ""
    for attempt in range(MAX_ATTEMPTS):
        canonical_id = spec.with_code(codes(external_id, attempt, length))
        row = EntityRow(
            canonical_id=canonical_id,
            entity=entity_name,
            display_name=display,
            search_name=with_name(search_key(canonical_id), display),
            minted_by=str(ref),
            created_at=now,
            updated_at=now,
        )
        if uow.entities.get(canonical_id) is not None or not uow.entities.claim(row):
            holder = uow.links.find(canonical_id, ref.system, ref.record_type)
            if holder is not None and holder.external_id == external_id:
                return canonical_id  # another process minted this very record just now
            continue  # another customer holds this code (perhaps just now, in another process)
        uow.links.add(
            LinkRow(
                canonical_id=canonical_id,
                system=ref.system,
                record_type=ref.record_type,
                external_id=external_id,
                url=None,
                display_name=display_name,
                created_at=now,
                updated_at=now,
            )
        )
        uow.flush()
        return canonical_id
    raise MintError(
        f"no free canonical ID for {ref} {external_id} after {MAX_ATTEMPTS} codes: "
        f"lengthen the code in entities.{entity_name}.canonical_id.format"
    )


def minting_external_id(uow: UnitOfWork, entity: Entity, canonical_id: str) -> str | None:
    """The id of the record that minted ``canonical_id``: read from the ID itself for an
    ``{id}`` format, else from the minting record's link."""
    ref = entity.canonical_id.minted_by
    link = uow.links.find(canonical_id, ref.system, ref.record_type)
    if link is not None:
        return link.external_id
    return entity.canonical_id.external_id_of(canonical_id)
