"""After cutover: a record typed by hand into a flow's target, with no canonical ID, checked
against the identity index for the customer it probably duplicates.

Once a phase is live its manual step is retired, so a new record without a canonical ID in a
target of a live flow is someone still typing by hand. It is compared with the customers the
index knows (their names, and the keys ``handoff match`` kept for them); a probable duplicate
becomes a match proposal and an alert in the watched channel, whose buttons settle it: Link
(adopt the record), Not a duplicate (rejected, never alerted again), or Merge where the
vendor merges records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from connectors.base import Record
from sync_core.alerts import AlertNotice, record_probable_duplicate
from sync_core.map.model import IntegrationMap, PhaseState, RecordRef
from sync_core.matching.clusters import Thresholds
from sync_core.matching.keys import MatchRecord, match_record
from sync_core.matching.reading import carries_canonical_id, to_match_record
from sync_core.matching.score import Score, score_pair
from sync_core.naming import fragments
from sync_core.phases import flow_mode, phase_states
from sync_core.ports import UnitOfWork
from sync_core.store.models import MatchProposalRow, MatchStatus

DUPLICATE_PREFIX = "duplicate:"
MERGE_SUFFIX = ":merge"  # the vendor can fold the typed record into the customer's own
CANDIDATES = 50  # customers of one name word looked at per record
FUZZY_WORD = 4  # a longest word this long is looked up again by pieces when nothing matched


@dataclass(frozen=True)
class Suspect:
    canonical_id: str
    customer: MatchRecord
    score: Score


def duplicate_key(target: RecordRef, proposal_id: int, *, merge: bool = False) -> str:
    """``duplicate:xero.contact:12``: the typed record's type and its proposal, and
    ``:merge`` when the alert offers Merge (``duplicate:pipedrive.organization:7:merge``)."""
    return f"{DUPLICATE_PREFIX}{target}:{proposal_id}{MERGE_SUFFIX if merge else ''}"


def _parts(group_key: str) -> tuple[str, int] | None:
    if not group_key.startswith(DUPLICATE_PREFIX):
        return None
    body = group_key[len(DUPLICATE_PREFIX) :].removesuffix(MERGE_SUFFIX)
    typed, _, tail = body.rpartition(":")
    return (typed, int(tail)) if tail.isdigit() else None


def proposal_of(group_key: str) -> int | None:
    """The proposal behind a probable-duplicate alert, from its group key."""
    parts = _parts(group_key)
    return parts[1] if parts else None


def typed_in(group_key: str) -> str:
    """The record type a probable-duplicate alert's record was typed into."""
    parts = _parts(group_key)
    return parts[0] if parts else ""


def offers_merge(group_key: str) -> bool:
    """The alert offers Merge: the vendor merges records and the customer has its own record
    of that type to merge the typed one into."""
    return _parts(group_key) is not None and group_key.endswith(MERGE_SUFFIX)


def live_target(uow: UnitOfWork, integration_map: IntegrationMap, target: RecordRef) -> bool:
    """A live flow writes into ``target``: nobody should be typing its records any more."""
    states = phase_states(uow)
    return any(
        flow.target == target and flow_mode(flow, states) == PhaseState.LIVE
        for flow in integration_map.flows
    )


def check_hand_typed(
    uow: UnitOfWork,
    integration_map: IntegrationMap,
    target: RecordRef,
    record: Record,
    *,
    now: datetime,
    channel: str | None,
    merging: bool = False,
) -> AlertNotice | None:
    """Alert when ``record`` (read back from ``target``) is a probable duplicate of a known
    customer. Nothing for a record that carries or is linked to a canonical ID, that a person
    has settled already, or in a target no live flow writes. ``merging``: the target's
    connector can merge records, so an extra copy can be merged rather than archived."""
    found = integration_map.entity_of(target)
    if found is None:
        return None
    entity_name, entity = found
    if entity.id_field_for(target) is None or carries_canonical_id(entity, target, record):
        return None
    if uow.links.by_record(target.system, target.record_type, record.external_id) is not None:
        return None
    if uow.matches.for_record(target.system, target.record_type, record.external_id):
        return None  # proposed already: alerted, decided, or in review
    if not live_target(uow, integration_map, target):
        return None
    typed = to_match_record(integration_map, entity_name, target, record)
    suspect = best_suspect(uow, integration_map, entity_name, typed)
    if suspect is None:
        return None
    minted_by = entity.canonical_id.minted_by
    customer = suspect.customer
    row = MatchProposalRow(
        entity=entity_name,
        canonical_id=suspect.canonical_id,
        source_system=minted_by.system,
        source_record_type=minted_by.record_type,
        source_external_id=customer.external_id,
        source_name=customer.display_name,
        system=target.system,
        record_type=target.record_type,
        external_id=record.external_id,
        name=record.display_name,
        score=suspect.score.value,
        reasons=suspect.score.text(),
        band="review",
        status=MatchStatus.OPEN.value,
        created_at=now,
        updated_at=now,
    )
    uow.matches.add(row)
    uow.flush()
    created = f" (created {record.updated_at:%H:%M})" if record.updated_at else ""
    summary = (
        f"probable duplicate typed by hand: {record.display_name or record.external_id!r} in "
        f"{target}{created} matches {customer.display_name or ''!r} {suspect.canonical_id}"
        f" — {suspect.score.text()}"
    )
    copy = uow.links.find(suspect.canonical_id, target.system, target.record_type)
    if copy is not None:
        remedy = (
            f"Merge folds it into {copy.external_id}"
            if merging
            else f"archive it in {target.system}"
        )
        summary += (
            f"; {suspect.canonical_id} has its {target} {copy.external_id} already, so this "
            f"one is an extra copy: {remedy} (Link would refuse)"
        )
    key = duplicate_key(target, row.id, merge=merging and copy is not None)
    return record_probable_duplicate(uow, key=key, summary=summary, now=now, channel=channel)


def best_suspect(
    uow: UnitOfWork, integration_map: IntegrationMap, entity_name: str, typed: MatchRecord
) -> Suspect | None:
    """The known customer ``typed`` most probably duplicates, at or above the review
    threshold; vetoed pairs (different tax numbers) never count."""
    if typed.name is None or not typed.name.tokens:
        return None
    entity = integration_map.entities[entity_name]
    thresholds = Thresholds(entity.match.auto_accept, entity.match.review)
    keys = tuple(entity.match.keys) or None
    minted_by = entity.canonical_id.minted_by
    word = max(typed.name.tokens, key=len)
    best: Suspect | None = None
    seen: set[str] = set()
    # the customers whose name holds the typed name's longest word; none close enough: those
    # holding a piece of it (``fragments``), in case the word itself was mistyped (both
    # through the name search index)
    lookups = [[[word]]] + ([[fragments(word)]] if len(word) >= FUZZY_WORD else [])
    for groups in lookups:
        if best is not None:
            break
        named: dict[str, str] = {}
        for row in uow.entities.named_with(groups, CANDIDATES):
            if row.entity == entity_name and row.canonical_id not in seen:
                seen.add(row.canonical_id)
                named[row.canonical_id] = row.display_name
        for canonical_id, customer in _customers(uow, entity_name, minted_by, named).items():
            score = score_pair(customer, typed, keys)
            if score.vetoed or score.value < thresholds.review:
                continue
            if best is None or score.value > best.score.value:
                best = Suspect(canonical_id, customer, score)
    return best


def _customers(
    uow: UnitOfWork, entity_name: str, minted_by: RecordRef, named: Mapping[str, str]
) -> dict[str, MatchRecord]:
    """Customers (canonical ID to name) as matching sees them: the keys ``handoff match``
    kept for each one's minting record when there are any, else its name. Two selects
    whatever their number: their minting records' links, then what was kept of those."""
    minting: dict[str, str] = {}
    for link in uow.links.in_system(list(named), minted_by.system, minted_by.record_type):
        minting.setdefault(link.canonical_id, link.external_id)
    kept = uow.matches.records(
        entity_name,
        [(minted_by.system, minted_by.record_type, external) for external in minting.values()],
    )
    customers: dict[str, MatchRecord] = {}
    for canonical_id, name in named.items():
        entity_external = minting.get(canonical_id)
        record = (
            kept.get((minted_by.system, minted_by.record_type, entity_external))
            if entity_external
            else None
        )
        values: dict[str, object] = dict(record.keys) if record else {}
        values.setdefault("name", name)
        customers[canonical_id] = match_record(
            minted_by.system, minted_by.record_type, entity_external or canonical_id, name, values
        )
    return customers
