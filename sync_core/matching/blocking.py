"""Blocking: only records that share a block key are compared, so cost grows about linearly.

Block keys are the rare words of the normalised name, the name's first letters, and the exact
strong keys (email, domain, tax number, phone, website). A block too large to say anything (a
word like "group" in thousands of names) is skipped. The keys are also kept in the store
(``match_blocks``) so a large reconciliation pairs records there, not in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from sync_core.matching.keys import MatchRecord

MAX_BLOCK_PAIRS = 400  # a block pairing more records than this is too common to tell apart
PREFIX = 4
# The longest key the store keeps (a column of this size); a longer one (a pasted paragraph in
# a mapped field) is dropped here too, so pairing in memory and in the store agree.
MAX_KEY = 300


def block_keys(record: MatchRecord) -> set[str]:
    keys = {f"{name}={value}" for name, value in record.keys.items()}
    if record.name is not None:
        keys.update(f"w={token}" for token in record.name.tokens if len(token) > 1)
        joined = record.name.key.replace(" ", "")
        if len(joined) >= PREFIX:
            keys.add(f"p={joined[:PREFIX]}")
    return {key for key in keys if len(key) <= MAX_KEY}


def candidate_pairs(
    left: Sequence[MatchRecord], right: Sequence[MatchRecord]
) -> Iterator[tuple[int, int]]:
    """Index pairs (i, j) of ``left[i]`` and ``right[j]`` that share a useful block, once."""
    blocks_left: dict[str, list[int]] = defaultdict(list)
    for i, record in enumerate(left):
        for key in block_keys(record):
            blocks_left[key].append(i)
    blocks_right: dict[str, list[int]] = defaultdict(list)
    for j, record in enumerate(right):
        for key in block_keys(record):
            if key in blocks_left:
                blocks_right[key].append(j)
    seen: set[tuple[int, int]] = set()
    for key, js in blocks_right.items():
        ins = blocks_left[key]
        if len(ins) * len(js) > MAX_BLOCK_PAIRS:
            continue
        for i in ins:
            for j in js:
                if (i, j) not in seen:
                    seen.add((i, j))
                    yield i, j
