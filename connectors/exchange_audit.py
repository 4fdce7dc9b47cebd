"""What one attempt did over HTTP: the exchanges it made and the rate-limit waits it sat out.

Whoever audits a vendor call opens a record around it (:func:`recording_exchanges`); the
shared HTTP layer notes each exchange and each wait into the record of the context it runs
in. The record lives in a :class:`contextvars.ContextVar`, not on the connector: polling and
delivery threads share one connector, and each attempt must name only its own exchanges.
Calls made outside any record (reads, drift checks) are in the exchange log only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class ExchangeRecord:
    """Exchange-log ids and rate-limit waits (seconds) of one audited call, in order."""

    exchange_ids: list[str] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)


_current: ContextVar[ExchangeRecord | None] = ContextVar("handoff_exchange_record", default=None)


@contextmanager
def recording_exchanges() -> Iterator[ExchangeRecord]:
    """Collect what the HTTP calls made inside the block (in this thread) did."""
    record = ExchangeRecord()
    token = _current.set(record)
    try:
        yield record
    finally:
        _current.reset(token)


def note_exchange(exchange_id: str) -> None:
    record = _current.get()
    if record is not None:
        record.exchange_ids.append(exchange_id)


def note_wait(seconds: float) -> None:
    record = _current.get()
    if record is not None:
        record.waits.append(seconds)
