"""Booking a batch's outcomes on the real store: one transaction with a bounded number of
statements whatever the batch's size, and, when that transaction fails, every event booked
again on its own, so a vendor's success is never lost to another event's booking."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine, select

import sync_core.booking
from bench.engine import BENCH_MAP
from connectors.base import Permanent, UpsertItem, UpsertResult
from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine as SyncEngine
from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.store.db import make_engine
from sync_core.store.models import Base, EventRow, LinkRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.support.statements import recorded

DEAL = RecordRef(system="crm", record_type="deal")


class Batching(SandboxConnector):
    """The sandbox taking up to 50 records a call; the canonical IDs in ``refuse`` fail."""

    batch_size: ClassVar[int] = 50
    refuse: ClassVar[set[str]] = set()

    def upsert_many(self, items: Sequence[UpsertItem]) -> list[UpsertResult]:
        written = super().upsert_many([i for i in items if i.canonical_id not in self.refuse])
        refused = [
            UpsertResult(item=i, error=Permanent("refused"), http_status=400)
            for i in items
            if i.canonical_id in self.refuse
        ]
        by_id = {r.item.canonical_id: r for r in [*written, *refused] if r.item is not None}
        return [by_id[i.canonical_id] for i in items]


def _planned(db: Engine, count: int) -> tuple[SyncEngine, Batching]:
    clock = FrozenClock()
    crm = SandboxConnector("crm", "pipedrive", clock)
    for index in range(count):
        crm.add(
            "deal",
            {"id": 100 + index, "status": "won", "org_name": f"Customer {index} Ltd"},
            external_id=str(100 + index),
        )
    books = Batching("books", "xero", clock)
    engine = SyncEngine(
        IntegrationMap.model_validate(BENCH_MAP),
        SqlUnitOfWorkFactory(db),
        {"crm": crm, "books": books},
        clock,
        CollectingSink(),
        worker_id="test",
    )
    engine.prepare()
    assert engine.poll(DEAL).outcomes["queued"] == count
    return engine, books


def _booking_statements(database_url: str, count: int) -> list[str]:
    db = make_engine(database_url)
    try:
        with db.begin() as connection:  # an empty store for each size
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
        engine, _ = _planned(db, count)
        with recorded(db, commits=True) as statements:
            report = engine.deliver_due(limit=100)
        assert (report.claimed, report.delivered) == (count, count)
        return statements
    finally:
        db.dispose()


def test_a_batch_is_booked_in_the_same_statements_for_10_events_as_for_40(
    database_url: str,
) -> None:
    small = _booking_statements(database_url, 10)
    large = _booking_statements(database_url, 40)

    # The claim, one read each of events, links and customers, the updates, one commit.
    reads = [s for s in large if not s.startswith("INSERT")]
    assert len(reads) == len([s for s in small if not s.startswith("INSERT")]) <= 20, reads
    assert large.count("-- commit") == 2  # the claim's and the booking's
    if database_url.startswith("postgresql"):
        # Attempts and links go in one statement each.
        assert len(large) == len(small), "\n".join(large)
    else:
        # SQLite cannot return generated ids of a multi-row INSERT in order, so SQLAlchemy
        # inserts rows that need one (attempts, links) one by one, in process.
        assert len(large) - len(reads) <= 2 * 40 + 5


def test_a_failing_booking_in_a_batch_loses_none_of_its_successes(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_engine(database_url)
    try:
        engine, books = _planned(db, 5)
        monkeypatch.setattr(Batching, "refuse", {"PD-102"})
        alerting = sync_core.booking.record_dead_event

        def store_fails(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the store went away while alerting")

        # The refused event's alert fails: the batch's transaction fails with it.
        monkeypatch.setattr(sync_core.booking, "record_dead_event", store_fails)
        with pytest.raises(RuntimeError, match="went away"):
            engine.deliver_due(limit=100)

        with db.connect() as connection:
            rows = connection.execute(
                select(EventRow.canonical_id, EventRow.status, EventRow.lease_owner)
            ).all()
            links = connection.execute(select(LinkRow.canonical_id, LinkRow.system)).all()
        delivered = sorted(cid for cid, status, _ in rows if status == "delivered")
        assert delivered == ["PD-100", "PD-101", "PD-103", "PD-104"]
        assert Counter(system for _, system in links) == Counter({"crm": 5, "books": 4})
        assert len(books.records("contact")) == 4
        # The one whose booking failed waits for its lease to end, then is tried again.
        monkeypatch.setattr(sync_core.booking, "record_dead_event", alerting)
        (refused,) = [(cid, owner) for cid, status, owner in rows if status != "delivered"]
        assert refused == ("PD-102", "test")
    finally:
        db.dispose()
