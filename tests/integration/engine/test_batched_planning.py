"""Planning a page as a whole on the real store: a bounded number of statements whatever the
page's size, and a page whose flush meets another process's row planned again record by
record, with nothing lost and nothing doubled."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, func, select

from bench.engine import BENCH_MAP
from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine as SyncEngine
from sync_core.engine import PollReport
from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.store.db import make_engine
from sync_core.store.models import Base, EntityRow, EventRow, LinkRow
from sync_core.store.repositories import SqlEntities
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.support.statements import recorded

DEAL = RecordRef(system="crm", record_type="deal")


def _deals(crm: SandboxConnector, count: int) -> None:
    for index in range(count):
        crm.add(
            "deal",
            {
                "id": 100 + index,
                "status": "won",
                "org_name": f"Customer {index} Ltd",
                "person_email": f"buyer{index}@example.com",
            },
            external_id=str(100 + index),
        )


def _engine(db: Engine, crm: SandboxConnector, clock: FrozenClock, page: int) -> SyncEngine:
    engine = SyncEngine(
        IntegrationMap.model_validate(BENCH_MAP),
        SqlUnitOfWorkFactory(db),
        {"crm": crm, "books": SandboxConnector("books", "xero", clock)},
        clock,
        CollectingSink(),
        worker_id="test",
        page_size=page,
    )
    engine.prepare()
    return engine


def _statements_to_plan(database_url: str, records: int) -> tuple[Sequence[str], PollReport]:
    clock = FrozenClock()
    crm = SandboxConnector("crm", "pipedrive", clock)
    _deals(crm, records)
    db = make_engine(database_url)
    try:
        engine = _engine(db, crm, clock, page=records)
        with recorded(db) as statements:
            report = engine.poll(DEAL)
        return statements, report
    finally:
        db.dispose()


def test_a_page_takes_the_same_statements_for_10_records_as_for_100(database_url: str) -> None:
    small, small_report = _statements_to_plan(database_url, 10)
    db = make_engine(database_url)
    try:
        with db.begin() as connection:  # an empty store again for the second run
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
        postgres = db.dialect.name == "postgresql"
    finally:
        db.dispose()
    large, large_report = _statements_to_plan(database_url, 100)

    assert (small_report.pages, small_report.outcomes["queued"]) == (1, 10)
    assert (large_report.pages, large_report.outcomes["queued"]) == (1, 100)
    reads = [s for s in large if not s.startswith("INSERT")]
    assert len(reads) == len([s for s in small if not s.startswith("INSERT")])
    assert len(reads) <= 20, "\n".join(reads)
    if postgres:
        # Rows of one table go in one statement (entities, links, events, cursor, flow).
        assert len(large) == len(small) <= 25, "\n".join(large)
    else:
        # SQLite cannot return generated ids of a multi-row INSERT in order, so SQLAlchemy
        # inserts rows that need one (links, events) one by one, in process: no round trip.
        assert len(large) - len(reads) <= 2 * 100 + 5


def test_a_page_meeting_another_process_row_is_planned_again_record_by_record(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FrozenClock()
    crm = SandboxConnector("crm", "pipedrive", clock)
    _deals(crm, 10)
    db = make_engine(database_url)
    try:
        engine = _engine(db, crm, clock, page=100)
        assert engine.poll(DEAL).outcomes["queued"] == 10
        for index in range(10):
            crm.edit("deal", str(100 + index), org_name=f"Customer {index} Limited")
        # The page's lookups miss the customers, as if another process had just inserted
        # them: the page's own inserts then collide with those rows when it flushes.
        monkeypatch.setattr(SqlEntities, "get_many", lambda self, ids: [])
        with recorded(db) as statements:
            report = engine.poll(DEAL)

        assert report.error is None and report.dead == 0
        assert report.outcomes == Counter({"queued": 10})
        assert any("SAVEPOINT" in s.upper() for s in statements)  # the record-by-record path
        with db.connect() as connection:
            entities = connection.scalar(select(func.count()).select_from(EntityRow))
            links = connection.scalar(select(func.count()).select_from(LinkRow))
            events = connection.execute(select(EventRow.canonical_id, EventRow.status)).all()
        assert (entities, links) == (10, 10)
        assert Counter(status for _, status in events) == Counter({"pending": 10, "superseded": 10})
        pending = [cid for cid, status in events if status == "pending"]
        assert sorted(pending) == sorted(f"PD-{100 + i}" for i in range(10))
    finally:
        db.dispose()
