"""Proposing from the store: the records of two large sides are kept in ``match_records``
with their block keys in ``match_blocks`` as they are read, then paired there, so a
reconciliation holds the scored pairs and the proposals, not every record of both sides.

It proposes exactly what :func:`clusters.propose` does given both sides' records sorted by
external ID: the same pairs (those sharing a block key worth pairing), scored the same,
assigned by the same function with the external IDs as ranks (the positions in lists
sorted by external ID order the same way).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import TypeVar

from sync_core.map.model import RecordRef
from sync_core.matching.blocking import MAX_BLOCK_PAIRS, block_keys
from sync_core.matching.clusters import Candidate, Thresholds, assign, candidate, kept
from sync_core.matching.keys import MatchRecord
from sync_core.matching.reading import from_row, record_row
from sync_core.matching.score import score_pair
from sync_core.ports import UnitOfWork

PAIRS_CHUNK = 500  # pairs scored together, their records loaded in one select a side

T = TypeVar("T")


def keep_records(
    uow: UnitOfWork, entity_name: str, matches: Sequence[MatchRecord], read_at: datetime
) -> None:
    """Keep the records read for matching and their block keys (replacing those a record
    had before), in statements of 500 rows; the unit of work holds none of them after."""
    uow.matches.put_records([record_row(entity_name, match, read_at) for match in matches])
    uow.matches.put_blocks(
        entity_name,
        read_at,
        {(m.system, m.record_type, m.external_id): block_keys(m) for m in matches},
    )


def propose_from_store(
    uow: UnitOfWork,
    entity_name: str,
    left: tuple[RecordRef, datetime],
    right: tuple[RecordRef, datetime],
    thresholds: Thresholds,
    keys: tuple[str, ...] | None,
) -> Iterator[list[Candidate]]:
    """The proposals linking the free records of ``right`` (a copy record type, those kept
    at or after its time and not linked) to those of ``left`` (the minting record type, kept
    at or after its time), one-to-one, best first: what ``clusters.propose`` returns for
    both sides' records sorted by external ID, in chunks, each chunk's records loaded as it
    is asked for (a caller storing each chunk before the next holds one chunk's records)."""
    (left_ref, left_since), (right_ref, right_since) = left, right
    pairs = uow.matches.pairs_sharing_blocks(
        entity_name,
        (left_ref.system, left_ref.record_type, left_since),
        (right_ref.system, right_ref.record_type, right_since),
        MAX_BLOCK_PAIRS,
    )
    scored: list[tuple[float, str, str]] = []
    sources: dict[str, MatchRecord] = {}
    copies: dict[str, MatchRecord] = {}
    for chunk in _chunks(pairs, PAIRS_CHUNK):
        # the records of this chunk, those of the one before loaded once (bounded: two
        # chunks' worth at most)
        sources = _records(uow, entity_name, left_ref, {i for i, _ in chunk}, sources)
        copies = _records(uow, entity_name, right_ref, {j for _, j in chunk}, copies)
        for i, j in chunk:
            result = score_pair(sources[i], copies[j], keys)
            if kept(result, thresholds):
                scored.append((result.value, i, j))
    picks = assign(scored, thresholds)
    del scored
    for chunk_of_picks in _chunks(picks, PAIRS_CHUNK):
        sources = _records(uow, entity_name, left_ref, {p.source for p in chunk_of_picks})
        copies = _records(uow, entity_name, right_ref, {p.copy for p in chunk_of_picks})
        # scored again rather than held: only the proposals' reasons are needed
        yield [
            candidate(
                sources[p.source],
                copies[p.copy],
                score_pair(sources[p.source], copies[p.copy], keys),
                p,
            )
            for p in chunk_of_picks
        ]


def _records(
    uow: UnitOfWork,
    entity_name: str,
    ref: RecordRef,
    external_ids: Collection[str],
    loaded: dict[str, MatchRecord] | None = None,
) -> dict[str, MatchRecord]:
    """The records of ``external_ids``, those in ``loaded`` taken from it."""
    loaded = loaded or {}
    found = {i: loaded[i] for i in external_ids if i in loaded}
    missing = [i for i in external_ids if i not in found]
    rows = uow.matches.records_of(entity_name, ref.system, ref.record_type, missing)
    found.update((row.external_id, from_row(row)) for row in rows)
    return found


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
