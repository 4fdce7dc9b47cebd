"""Scoring one pair of records: a number in [0, 1] and the reasons for it, in words.

The name gives the base (never enough alone to pass the default ``auto_accept``); each
agreeing key adds evidence (``1 - (1 - score) * (1 - weight)``); a differing email domain
lowers it; differing tax numbers veto the match whatever else agrees, and so do differing
titles (two projects of one customer are two records, however alike their client's name).
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import Indel

from sync_core.matching.keys import DOMAIN, EMAIL, PHONE, TAX, TITLE, WEBSITE, MatchRecord

# How much an agreeing key says on its own (any other mapped field: PLAIN_WEIGHT).
WEIGHTS = {TAX: 0.95, EMAIL: 0.8, PHONE: 0.6, WEBSITE: 0.6, DOMAIN: 0.5, TITLE: 0.5}
PLAIN_WEIGHT = 0.3
# A name alone, however equal, leaves room for two customers of one name: a person decides.
NAME_ONLY_CAP = 0.9
DOMAIN_CONFLICT = 0.85
VETO_KEYS = (TAX,)
# Titles this similar (words sorted, bracketed notes dropped) are one title with a typo; any
# less similar name another project.
TITLE_AGREES = 0.9


@dataclass(frozen=True)
class Score:
    value: float
    reasons: tuple[str, ...]
    vetoed: bool = False

    def text(self) -> str:
        return "; ".join(self.reasons)


def name_similarity(a: MatchRecord, b: MatchRecord) -> float | None:
    """Similarity of the two normalised names (word order ignored), or None without both."""
    if a.name is None or b.name is None:
        return None
    return float(Indel.normalized_similarity(a.name.key, b.name.key))


def title_similarity(a: MatchRecord, b: MatchRecord) -> float | None:
    """Similarity of the two titles, or None without both."""
    left, right = a.keys.get(TITLE), b.keys.get(TITLE)
    if not left or not right:
        return None
    return float(Indel.normalized_similarity(left, right))


def score_pair(a: MatchRecord, b: MatchRecord, keys: tuple[str, ...] | None = None) -> Score:
    """Score ``a`` against ``b`` on ``keys`` (default: every key both carry)."""
    reasons: list[str] = []
    for key in VETO_KEYS:
        left, right = a.keys.get(key), b.keys.get(key)
        if _used(key, keys) and left and right and left != right:
            label = key.replace("_", " ")
            return Score(0.0, (f"{label}s differ ({left} ≠ {right}): not the same customer",), True)
    titles = title_similarity(a, b) if _used(TITLE, keys) else None
    if titles is not None and titles < TITLE_AGREES:
        left, right = a.keys[TITLE], b.keys[TITLE]
        return Score(0.0, (f"titles differ ({left} ≠ {right}): another project",), True)
    value = 0.0
    similarity = name_similarity(a, b) if _used("name", keys) else None
    if similarity is not None:
        value = min(similarity, NAME_ONLY_CAP)
        reasons.append(_name_reason(a, b, similarity))
    shared = [k for k in a.keys if k in b.keys and _used(k, keys)]
    for key in sorted(shared, key=lambda k: -WEIGHTS.get(k, PLAIN_WEIGHT)):
        label = key.replace("_", " ")
        if a.keys[key] == b.keys[key] or (key == TITLE and titles is not None):
            if key == DOMAIN and a.keys.get(EMAIL) and a.keys.get(EMAIL) == b.keys.get(EMAIL):
                continue  # the same address says it already
            value = 1 - (1 - value) * (1 - WEIGHTS.get(key, PLAIN_WEIGHT))
            reasons.append(
                f"same {label} {a.keys[key]}"
                if key in (DOMAIN, WEBSITE, TITLE)
                else f"{label} equal"
            )
        elif key == DOMAIN:
            value *= DOMAIN_CONFLICT
            reasons.append(f"email domains differ ({a.keys[key]} ≠ {b.keys[key]})")
    return Score(round(value, 4), tuple(reasons))


def _used(key: str, keys: tuple[str, ...] | None) -> bool:
    if keys is None:
        return True
    if key == DOMAIN:
        return DOMAIN in keys or EMAIL in keys
    return key in keys


def _name_reason(a: MatchRecord, b: MatchRecord, similarity: float) -> str:
    assert a.name is not None and b.name is not None
    text = f"name {similarity:.2f}"
    removed = [r for r in (a.name.removed, b.name.removed) if r]
    if removed:
        text += " after removing " + "/".join(dict.fromkeys(removed))
    return text
