"""From scored pairs to proposals: each record of a copy system goes with at most one record
of the minting system, best score first; together they form one customer's cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sync_core.matching.blocking import candidate_pairs
from sync_core.matching.keys import MatchRecord
from sync_core.matching.score import Score, score_pair

# A runner-up this close to the best makes the best one a person's call, not an automatic one.
AMBIGUITY_MARGIN = 0.03


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
    scored: list[tuple[float, int, int, Score]] = []
    best_of_source: dict[int, list[float]] = {}
    for i, j in candidate_pairs(sources, copies):
        result = score_pair(sources[i], copies[j], keys)
        if result.vetoed or result.value < thresholds.review:
            continue
        scored.append((result.value, i, j, result))
        best_of_source.setdefault(i, []).append(result.value)
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    taken_sources: set[int] = set()
    taken_copies: set[int] = set()
    best_of_copy: dict[int, list[float]] = {}
    for value, _i, j, _s in scored:
        best_of_copy.setdefault(j, []).append(value)
    proposals: list[Candidate] = []
    for value, i, j, result in scored:
        if i in taken_sources or j in taken_copies:
            continue
        taken_sources.add(i)
        taken_copies.add(j)
        band = Band.AUTO if value >= thresholds.auto_accept else Band.REVIEW
        if band == Band.AUTO and (
            _runner_up(best_of_source[i], value) or _runner_up(best_of_copy[j], value)
        ):
            band = Band.REVIEW
            result = Score(result.value, (*result.reasons, "another record scores nearly as high"))
        proposals.append(Candidate(sources[i], copies[j], result, band))
    return proposals


def _runner_up(values: list[float], best: float) -> bool:
    others = sorted(values, reverse=True)[1:]
    return bool(others) and best - others[0] < AMBIGUITY_MARGIN
