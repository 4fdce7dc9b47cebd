"""Batched upserts, as every vendor with a batch call does them: rounds in which no target
record is written twice, and a failed call booked on its own items only."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from connectors.base import ConnectorError, UpsertItem, UpsertResult

__all__ = ["failed", "rounds"]


def rounds(indexes: Iterable[int], keys: Callable[[int], set[str]]) -> Iterator[list[int]]:
    """``indexes`` in rounds where no two share a key (a canonical ID, an address): one that
    shares a key with an earlier one waits for the next round, so it updates the record the
    earlier one writes instead of racing it inside one batch."""
    pending = list(indexes)
    while pending:
        seen: set[str] = set()
        batch: list[int] = []
        later: list[int] = []
        for index in pending:
            own = keys(index)
            (later if own & seen else batch).append(index)
            seen |= own
        yield batch
        pending = later


def failed(
    items: Sequence[UpsertItem], indexes: Iterable[int], error: ConnectorError
) -> dict[int, UpsertResult]:
    """The results of a batch call that failed as a whole: each of its items carries the error."""
    return {
        i: UpsertResult(item=items[i], error=error, http_status=error.http_status) for i in indexes
    }
