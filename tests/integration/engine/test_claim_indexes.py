"""A claim reads the delivery queue through indexes made for it, whatever the table holds.

Without them a claim sorted every due event, and its check that no other write to the same
record is in flight read, for each candidate, every event of the target system: PostgreSQL
took 2.6 s a claim at 5,000 pending events (before its statistics were gathered), and
delivery slowed as the backlog grew. The plans are read with EXPLAIN, on a table holding a
backlog and a few leased events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.support.rows import pending_event
from tests.support.statements import recorded

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def backlog(uow_factory: SqlUnitOfWorkFactory, count: int) -> None:
    with uow_factory() as uow:
        for index in range(count):
            at = NOW - timedelta(seconds=count - index)
            uow.events.add(
                pending_event(
                    f"C-{index}",
                    at,
                    source_external_id=str(index),
                    payload={"name": f"Customer {index}"},
                    payload_hash=f"h{index}",
                )
            )
        uow.commit()


def plan_of(db: Engine, stmt: str, params: Any) -> str:
    explain = "EXPLAIN QUERY PLAN " if db.dialect.name == "sqlite" else "EXPLAIN "
    with db.connect() as connection:
        rows = connection.exec_driver_sql(explain + stmt, params).all()
    return "\n".join(" ".join(str(c) for c in row) for row in rows)


def test_a_claim_walks_the_open_events_in_order_and_checks_only_leased_ones(
    db: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    backlog(uow_factory, 2000)
    with uow_factory() as uow:  # a first claim: its events now hold leases
        assert len(uow.events.claim_due(NOW, NOW + LEASE, "a", 20)) == 20
        uow.commit()

    with recorded(db) as seen, uow_factory() as uow:
        taken = uow.events.claim_due(NOW, NOW + LEASE, "b", 20)
        uow.commit()
    assert [row.source_external_id for row in taken] == [str(i) for i in range(20, 40)]

    (claim,) = [
        (s.flat, s.params) for s in seen if "events.target_canonical_id FROM events" in s.flat
    ]
    (lease,) = [(s.flat, s.params) for s in seen if s.starts("UPDATE events")]
    # before the table's statistics are gathered (a new backlog), then after
    for analyze in (False, True):
        if analyze:
            with db.begin() as connection:
                connection.execute(text("ANALYZE"))
        claim_plan = plan_of(db, *claim)
        assert "ix_events_open_due" in claim_plan, claim_plan
        assert "ix_events_leased_target" in claim_plan, claim_plan
        lease_plan = plan_of(db, *lease)
        assert "ix_events_leased_target" in lease_plan, lease_plan
