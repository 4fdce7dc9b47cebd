"""The connector contract: what the engine may ask of any system, and how failures are sorted.

Every vendor package (``connectors.pipedrive``, ``connectors.xero``, ...) and the in-process
sandbox subclass :class:`Connector`. The engine knows nothing else about a vendor.

A record is addressed by its *record type* (``deal``, ``contact``, ``project``...) and its
*external id* (the vendor's own id). The canonical ID lives in a vendor field named by the
map's ``id_field``, parsed once into an :class:`IdField` (``ContactNumber``,
``custom_field:Pipedrive deal``, ...); the connector decides how to read and write such a field.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from connectors.clock import Clock, SystemClock

__all__ = [
    "AuthExpired",
    "Clock",
    "ConfigError",
    "Connector",
    "ConnectorError",
    "IdField",
    "IdFieldKind",
    "Page",
    "Permanent",
    "RateLimited",
    "Record",
    "SchemaChanged",
    "SystemClock",
    "Transient",
    "UpsertItem",
    "UpsertResult",
    "classified",
    "classify_unexpected",
]


# --------------------------------------------------------------------------------------------
# Records and pages
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One record as a connector sees it.

    ``fields`` is a flat, JSON-serialisable mapping the map's expressions read from
    (``{{ org_name }}``). Custom fields appear under their human name, not a generated key.
    """

    record_type: str
    external_id: str
    fields: Mapping[str, Any]
    updated_at: datetime | None = None
    url: str | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class Page:
    """One page of changed records and the cursor to checkpoint once it is processed.

    ``cursor`` is opaque to the engine (a modified-since timestamp, an offset token, ...).
    ``has_more`` tells the engine to ask again with ``cursor`` at once.
    """

    records: Sequence[Record]
    cursor: str | None
    has_more: bool = False


class IdFieldKind(StrEnum):
    """Where a vendor keeps the canonical ID of a copy."""

    PLAIN = "plain"  # a standard field of the record (``ContactNumber``)
    CUSTOM_FIELD = "custom_field"  # a user-defined field, by its human name
    MERGE_FIELD = "merge_field"  # an email platform's merge field, by its tag
    TAG = "tag"  # a tag on the record


@dataclass(frozen=True)
class IdField:
    """The field holding the canonical ID, as the map's ``id_field`` names it: ``ContactNumber``
    (plain), ``custom_field:Pipedrive deal``, ``merge_field:HANDOFF``, ``tag:<name>``.

    Parsed once, by the map model (and from an event row's stored text); connectors read
    ``kind`` and ``name`` and never split the text again.
    """

    kind: IdFieldKind
    name: str

    @classmethod
    def parse(cls, text: str) -> IdField:
        """``custom_field: Pipedrive deal`` → (custom_field, ``Pipedrive deal``); spaces around
        the prefix and the name do not count. A ValueError for an empty name or an unknown
        ``prefix:``."""
        prefix, colon, rest = text.partition(":")
        if not colon:
            kind, name = IdFieldKind.PLAIN, text.strip()
        else:
            try:
                kind = IdFieldKind(prefix.strip())
            except ValueError:
                kind = IdFieldKind.PLAIN
            if kind is IdFieldKind.PLAIN:
                known = ", ".join(f"{k.value}:" for k in IdFieldKind if k is not IdFieldKind.PLAIN)
                raise ValueError(
                    f"id_field {text!r}: unknown kind {prefix.strip()!r}; use a plain field name "
                    f"or one of {known}"
                )
            name = rest.strip()
        if not name:
            raise ValueError(f"id_field {text!r} names no field")
        return cls(kind, name)

    @classmethod
    def plain(cls, name: str) -> IdField:
        return cls(IdFieldKind.PLAIN, name)

    @property
    def is_plain(self) -> bool:
        return self.kind is IdFieldKind.PLAIN

    def __str__(self) -> str:
        """The map's (and the event row's) spelling: parsing it gives this value back."""
        return self.name if self.is_plain else f"{self.kind.value}:{self.name}"


@dataclass(frozen=True)
class UpsertItem:
    """One write the engine wants: make ``fields`` true of the record holding ``canonical_id``."""

    record_type: str
    id_field: IdField | None  # None: the target is the minting system (its id is known)
    canonical_id: str
    fields: Mapping[str, Any]
    idempotency_key: str
    external_id: str | None = None  # known target id (a link), when the engine has one
    # Told the new record's id as soon as the vendor has made it, before the rest of a
    # multi-call create: a crash in between then retries as an update, not a second create.
    on_created: Callable[[str], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class UpsertResult:
    """The outcome of one :class:`UpsertItem`: the record written, or the error for it alone."""

    item: UpsertItem
    record: Record | None = None
    created: bool = False
    error: ConnectorError | None = None
    http_status: int | None = None


# --------------------------------------------------------------------------------------------
# Errors, sorted by what to do next
# --------------------------------------------------------------------------------------------


class ConnectorError(Exception):
    """Base of every failure a connector reports. ``kind`` is stored on the audit row."""

    kind: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        vendor_message: str | None = None,
        retry_after: float | None = None,
        exchange_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.vendor_message = vendor_message
        self.retry_after = retry_after
        self.exchange_id = exchange_id

    def __str__(self) -> str:
        if self.vendor_message and self.vendor_message not in self.message:
            return f"{self.message}: {self.vendor_message}"
        return self.message


class Transient(ConnectorError):
    """5xx, timeout, connection reset: it will probably work later."""

    kind = "transient"
    retryable = True


class RateLimited(Transient):
    """429 or a local limiter that cannot wait: carries the vendor's Retry-After (seconds)."""

    kind = "rate_limited"


class AuthExpired(Transient):
    """401 with a credential that may be refreshed; retried once the token is renewed."""

    kind = "auth_expired"


class Permanent(ConnectorError):
    """A 4xx the vendor will repeat until someone changes data or the map."""

    kind = "permanent"


class SchemaChanged(Permanent):
    """A response lacks what the connector relies on: the vendor changed its format."""

    kind = "schema_changed"


class ConfigError(Permanent):
    """Handoff itself is misconfigured for this system (missing secret, unknown record type)."""

    kind = "config"


def classify_unexpected(exc: BaseException, doing: str) -> ConnectorError:
    """The fallback at the connector boundary: an exception a connector did not sort itself
    (a ``KeyError`` on a payload, a ``ValueError`` parsing a date or a cursor) is a response
    the connector cannot read, so :class:`SchemaChanged`, named with what was being done and
    the exception's type and message (never its locals)."""
    if isinstance(exc, ConnectorError):
        return exc
    return SchemaChanged(f"{doing}: unexpected {type(exc).__name__}: {exc}")


@contextmanager
def classified(doing: str) -> Iterator[None]:
    """Run a connector call at the connector boundary: a :class:`ConnectorError` passes as
    it is, anything else leaves as :func:`classify_unexpected` sorts it."""
    try:
        yield
    except ConnectorError:
        raise
    except Exception as exc:
        raise classify_unexpected(exc, doing) from exc


# --------------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------------


class Connector(ABC):
    """What the engine needs from a system, and the idempotent upsert built from it.

    A vendor implements the abstract calls; all are synchronous and may raise
    :class:`ConnectorError` subclasses only. Optional powers (batched upsert, change signals,
    merge, archive) are the small protocols of :mod:`connectors.capabilities`, checked where
    the wiring builds a connector.
    """

    system: str = ""
    _creating: ClassVar[threading.local] = threading.local()

    @abstractmethod
    def record_types(self) -> Sequence[str]:
        """The record types this connector can read or write."""

    @abstractmethod
    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        """Records of ``record_type`` changed since ``cursor`` (``None``: from the beginning)."""

    @abstractmethod
    def get(self, record_type: str, external_id: str) -> Record:
        """One record by its external id."""

    @abstractmethod
    def find_by_canonical_id(
        self, record_type: str, id_field: IdField, canonical_id: str
    ) -> Record | None:
        """The record whose ``id_field`` holds ``canonical_id``, or ``None``."""

    @abstractmethod
    def create(
        self,
        record_type: str,
        fields: Mapping[str, Any],
        *,
        id_field: IdField,
        canonical_id: str,
        idempotency_key: str | None = None,
    ) -> Record:
        """Create a record with ``fields`` and the canonical ID stamped into ``id_field``."""

    @abstractmethod
    def update(
        self,
        record_type: str,
        external_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Record:
        """Change ``fields`` of an existing record."""

    @abstractmethod
    def deep_link(self, record_type: str, external_id: str) -> str:
        """The record's address in the vendor's web app."""

    def close(self) -> None:  # noqa: B027 - optional: most connectors hold nothing
        """Release sockets and threads."""

    def upsert(self, item: UpsertItem) -> UpsertResult:
        """Find the target by canonical ID (or known id), then update it or create it.

        Searching first is what makes a retry after a crash safe: a record created by an
        earlier attempt whose bookkeeping was lost is found and updated, not duplicated.
        """
        existing: Record | None = None
        if item.external_id is not None:
            existing = self.get(item.record_type, item.external_id)
        elif item.id_field is not None:
            existing = self.find_by_canonical_id(item.record_type, item.id_field, item.canonical_id)
        else:
            raise ConfigError(
                f"{self.system}: {item.record_type} {item.canonical_id}: neither a known id "
                "nor an id_field to find the record by"
            )
        if existing is not None:
            fields = dict(item.fields)
            stamp = item.id_field.name if item.id_field else None
            if stamp and existing.fields.get(stamp) != item.canonical_id:
                # A create that died half-way left the record without its canonical ID.
                fields[stamp] = item.canonical_id
            record = self.update(
                item.record_type,
                existing.external_id,
                fields,
                idempotency_key=item.idempotency_key,
            )
            return UpsertResult(item=item, record=record, created=False)
        if item.id_field is None:
            raise ConfigError(f"{self.system}: cannot create a {item.record_type} without id_field")
        self._creating.item = item
        try:
            record = self.create(
                item.record_type,
                item.fields,
                id_field=item.id_field,
                canonical_id=item.canonical_id,
                idempotency_key=item.idempotency_key,
            )
        finally:
            self._creating.item = None
        return UpsertResult(item=item, record=record, created=True)

    def created_early(self, external_id: str) -> None:
        """A create of several calls reports the new id after its first call (see
        :attr:`UpsertItem.on_created`)."""
        item = getattr(self._creating, "item", None)
        if item is not None and item.on_created is not None:
            item.on_created(external_id)

    def upsert_many(self, items: Sequence[UpsertItem]) -> list[UpsertResult]:
        """Upsert each item by canonical ID; one result per item, in order. An error in one
        item is reported on its result, not raised, unless the whole call failed."""
        results: list[UpsertResult] = []
        for item in items:
            try:
                results.append(self.upsert(item))
            except ConnectorError as exc:
                results.append(UpsertResult(item=item, error=exc, http_status=exc.http_status))
        return results


@dataclass
class ConnectorSettings:
    """What a connector is built from: the map's system block with secrets resolved."""

    system: str
    connector: str
    credentials: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
