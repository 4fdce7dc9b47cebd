"""From scored pairs to proposals: each record of a copy system goes with at most one record
of the minting system, best score first; together they form one customer's cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sync_core.matching.blocking import candidate_pairs
from sync_core.matching.keys import MatchRecord
from sync_core.matching.score import Score, score_pair

# A runner-up this close to the best makes the best one a person's call, not an automatic one.
AMBIGUITY_MARGIN = 0.03

R = TypeVar("R", int, str)  # how a record is ranked: its position, or its external ID


class Band(StrEnum):
    AUTO = "auto"  # at or above auto_accept: accepted without review
    REVIEW = "review"  # between review and auto_accept: a person decides


@dataclass(frozen=True)
class Thresholds:
    auto_accept: float
    review: float


@dataclass(frozen=True)
class Candidate:
    source: MatchRecord  # the minting system's record
    copy: MatchRecord  # the record in a copy system
    score: Score
    band: Band


def propose(
    sources: Sequence[MatchRecord],
    copies: Sequence[MatchRecord],
    thresholds: Thresholds,
    keys: tuple[str, ...] | None = None,
) -> list[Candidate]:
    """The proposals linking ``copies`` (one system) to ``sources``, one-to-one, best first."""
    scored: list[tuple[float, int, int]] = []
    results: dict[tuple[int, int], Score] = {}
    for i, j in candidate_pairs(sources, copies):
        result = score_pair(sources[i], copies[j], keys)
        if kept(result, thresholds):
            scored.append((result.value, i, j))
            results[(i, j)] = result
    return [
        candidate(sources[pick.source], copies[pick.copy], results[(pick.source, pick.copy)], pick)
        for pick in assign(scored, thresholds)
    ]


def kept(result: Score, thresholds: Thresholds) -> bool:
    """A scored pair worth proposing: not vetoed and at or above the review threshold."""
    return not result.vetoed and result.value >= thresholds.review


@dataclass(frozen=True)
class Pick(Generic[R]):
    """One pair :func:`assign` chose, by its records' ranks (positions, or external IDs)."""

    source: R
    copy: R
    band: Band
    ambiguous: bool  # would be auto-accepted but another record scores nearly as high


def assign(scored: list[tuple[float, R, R]], thresholds: Thresholds) -> list[Pick[R]]:
    """Pair each copy with at most one source, best score first; a tie goes to the lower
    source rank, then the lower copy rank. ``scored``: ``(value, source rank, copy rank)``
    of each kept pair (reordered in place, its scores negated). Only the ranks are held, not
    the records, so a caller pairing from the store holds what the scored pairs take (about
    100 bytes a pair), not every record."""
    best_of_source: dict[R, tuple[float, float | None]] = {}
    best_of_copy: dict[R, tuple[float, float | None]] = {}
    for value, i, j in scored:
        best_of_source[i] = _top_two(best_of_source.get(i), value)
        best_of_copy[j] = _top_two(best_of_copy.get(j), value)
    # best first: each pair's score negated in place and the tuples sorted as they are (a
    # key function would build a second tuple for every pair)
    for index, (value, i, j) in enumerate(scored):
        scored[index] = (-value, i, j)
    scored.sort()
    taken_sources: set[R] = set()
    taken_copies: set[R] = set()
    picks: list[Pick[R]] = []
    for negated, i, j in scored:
        value = -negated
        if i in taken_sources or j in taken_copies:
            continue
        taken_sources.add(i)
        taken_copies.add(j)
        band = Band.AUTO if value >= thresholds.auto_accept else Band.REVIEW
        ambiguous = band == Band.AUTO and (
            _runner_up(best_of_source[i], value) or _runner_up(best_of_copy[j], value)
        )
        picks.append(Pick(i, j, Band.REVIEW if ambiguous else band, ambiguous))
    return picks


def candidate(source: MatchRecord, copy: MatchRecord, result: Score, pick: Pick[Any]) -> Candidate:
    """The proposal of a pick, its reasons saying why an ambiguous one waits for a person."""
    if pick.ambiguous:
        result = Score(result.value, (*result.reasons, "another record scores nearly as high"))
    return Candidate(source, copy, result, pick.band)


def _top_two(top: tuple[float, float | None] | None, value: float) -> tuple[float, float | None]:
    """The two highest scores of a record's pairs (the same score twice counts twice): all a
    runner-up needs, so a record's every score is not held."""
    if top is None:
        return (value, None)
    first, second = top
    if value > first:
        return (value, first)
    if second is None or value > second:
        return (first, value)
    return top


def _runner_up(top: tuple[float, float | None], best: float) -> bool:
    """Whether a record's other pairs hold a score this close to ``best`` (its pick's)."""
    return top[1] is not None and best - top[1] < AMBIGUITY_MARGIN
