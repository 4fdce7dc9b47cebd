"""Optional powers of a connector, as small protocols beside the one abstract base.

A connector has a power by having its methods; the wiring checks them once, when it builds the
connector (:func:`check`), and the engine asks through the helpers here instead of probing
attributes on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from connectors.base import ConfigError, Connector, Record, UpsertItem, UpsertResult

__all__ = [
    "Archive",
    "BatchedRead",
    "BatchedUpsert",
    "ChangeSignals",
    "Merge",
    "batch_size",
    "capabilities",
    "check",
]


@runtime_checkable
class BatchedUpsert(Protocol):
    """Upserts ``batch_size`` items in one go (a vendor batch endpoint, or one listing per
    batch): the deliverer hands it batches of that size."""

    @property
    def batch_size(self) -> int: ...

    def upsert_many(self, items: Sequence[UpsertItem]) -> list[UpsertResult]: ...


@runtime_checkable
class BatchedRead(Protocol):
    """Reads many records of one type by their ids in few calls (Xero's ``IDs`` filter)."""

    def get_many(self, record_type: str, external_ids: Sequence[str]) -> dict[str, Record]:
        """The records of ``external_ids`` that exist, keyed by the id as given; one that
        does not exist is left out."""
        ...


@runtime_checkable
class ChangeSignals(Protocol):
    """The vendor notifies us of changes (webhooks): a faster poll, never a source of data."""

    def change_signal(self, payload: Any) -> str | None:
        """The record type a notification says changed (None: not one we sync)."""
        ...

    def ensure_change_signals(
        self, url: str, record_types: Sequence[str], *, user: str, password: str
    ) -> list[str]:
        """Subscribe ``url`` to changes of ``record_types``; the record types newly added."""
        ...


@runtime_checkable
class Merge(Protocol):
    """The vendor can merge two records of one type into the first (Pipedrive merges
    organizations, persons and deals); a merge is offered only where a connector has it."""

    def merge(self, record_type: str, keep_id: str, merge_id: str) -> Record:
        """Merge record ``merge_id`` into ``keep_id``: the kept record's values win where both
        have one, its empty fields take the other's, and ``merge_id`` is gone afterwards.
        Returns the kept record as it is after the merge."""
        ...


@runtime_checkable
class Archive(Protocol):
    """The vendor can archive a record instead of deleting it."""

    def archive(self, record_type: str, external_id: str) -> Record: ...


_POWERS: dict[str, type] = {
    "batched_upsert": BatchedUpsert,
    "batched_read": BatchedRead,
    "change_signals": ChangeSignals,
    "merge": Merge,
    "archive": Archive,
}


def capabilities(connector: object) -> frozenset[str]:
    """The optional powers ``connector`` has, by name."""
    return frozenset(name for name, power in _POWERS.items() if isinstance(connector, power))


def batch_size(connector: object) -> int:
    """How many events the deliverer hands ``connector`` at once (1 without batched upsert)."""
    if isinstance(connector, BatchedUpsert):
        return max(1, connector.batch_size)
    return 1


def check(connector: object, name: str) -> Connector:
    """What the wiring calls on every connector it builds: it subclasses :class:`Connector`,
    and the powers it claims are usable."""
    if not isinstance(connector, Connector):
        raise ConfigError(f"connector {name!r} built a {type(connector).__name__}, not a Connector")
    if isinstance(connector, BatchedUpsert):
        size = connector.batch_size
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ConfigError(
                f"connector {name!r}: batch_size must be a positive int, not {size!r}"
            )
    return connector
