"""The retention policy deletes only finished events older than the cutoff."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine as DbEngine
from sqlalchemy import func, select

from connectors.clock import FrozenClock
from sync_core.store.db import session_factory
from sync_core.store.models import AttemptRow, EventRow
from sync_core.store.retention import prune
from tests.support.agency import agency_engine, in_process_map


def statuses(db: DbEngine) -> dict[str, int]:
    with session_factory(db)() as session:
        rows = session.execute(select(EventRow.status, func.count()).group_by(EventRow.status))
        return {str(r[0]): int(r[1]) for r in rows}


def test_old_finished_events_go_and_everything_unsettled_stays(db: DbEngine) -> None:
    clock = FrozenClock()
    integration_map = in_process_map()
    engine, connectors = agency_engine(db, clock, integration_map)
    connectors["asana"].fault("renamed_field", times=100)  # the project flow dies at once
    engine.sync_once()
    before = statuses(db)
    assert before["delivered"] and before["dead"]

    clock.advance(timedelta(days=200))
    connectors["pipedrive"].edit("deal", "102", status="won")  # a new, recent event
    engine.sync_once()

    unpruned = statuses(db)
    with session_factory(db)() as session:
        dry = prune(session, clock.now() - timedelta(days=180), dry_run=True)
    assert dry.events == before["delivered"] and dry.attempts >= dry.events
    assert statuses(db) == unpruned  # a dry run deletes nothing
    with session_factory(db)() as session:
        done = prune(session, clock.now() - timedelta(days=180))
        session.commit()
    assert done == dry

    after = statuses(db)
    assert after["dead"] == unpruned["dead"]  # nobody settled them: kept whatever their age
    recent = unpruned["delivered"] - before["delivered"]  # the newly won deal's deliveries
    assert recent >= 1 and after.get("delivered") == recent
    with session_factory(db)() as session:
        orphans = session.scalar(
            select(func.count())
            .select_from(AttemptRow)
            .where(AttemptRow.event_id.not_in(select(EventRow.id)))
        )
    assert orphans == 0
