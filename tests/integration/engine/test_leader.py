"""One leader runs the periodic jobs when several processes share a PostgreSQL database."""

from __future__ import annotations

from sqlalchemy import Engine

from sync_core.scheduler import LeaderLock
from sync_core.store.db import make_engine


def test_only_one_process_leads_on_postgresql_and_leadership_passes_on(
    db: Engine, database_url: str
) -> None:
    other_db = make_engine(database_url)
    first, second = LeaderLock(db), LeaderLock(other_db)
    try:
        assert first.acquire()
        if db.dialect.name == "postgresql":
            assert not second.acquire()
            first.release()  # the leader stops: its session ends and the lock with it
            assert second.acquire()
        else:
            assert second.acquire()  # one process per SQLite file: always the leader
    finally:
        first.release()
        second.release()
        other_db.dispose()


def test_a_leader_whose_session_dies_loses_the_role(db: Engine, database_url: str) -> None:
    if db.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    other_db = make_engine(database_url)
    first, second = LeaderLock(db), LeaderLock(other_db)
    try:
        assert first.acquire()
        pid = first._connection.execute(text("SELECT pg_backend_pid()")).scalar()
        first._connection.commit()
        with other_db.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
        assert second.acquire()
        assert not first.acquire()  # the dead session's lock went with it; second leads now
    finally:
        first.release()
        second.release()
        other_db.dispose()


def test_the_alert_sender_and_watch_run_on_the_leader_only(db: Engine, database_url: str) -> None:
    from datetime import timedelta

    from connectors.clock import SystemClock
    from sync_core.alerts import CollectingSink
    from sync_core.engine import Engine as SyncEngine
    from sync_core.scheduler import SyncScheduler
    from sync_core.store.uow import SqlUnitOfWorkFactory
    from tests.integration.engine.test_scheduler import in_process_map

    other_db = make_engine(database_url)
    ran: list[str] = []
    schedulers = []
    for name, engine in (("first", db), ("second", other_db)):
        sync = SyncEngine(
            in_process_map(), SqlUnitOfWorkFactory(engine), {}, SystemClock(), CollectingSink()
        )
        scheduler = SyncScheduler(sync, LeaderLock(engine))
        scheduler.add_leader_job(lambda n=name: ran.append(n), timedelta(seconds=1), "alerts")
        schedulers.append(scheduler)
    try:
        for scheduler in schedulers:
            scheduler.scheduler.get_job("alerts").func()
        if db.dialect.name == "postgresql":
            assert ran == ["first"]
            schedulers[0].leader.release()
            schedulers[1].scheduler.get_job("alerts").func()
            assert ran == ["first", "second"]
        else:
            assert ran == ["first", "second"]  # one process per SQLite file
    finally:
        for scheduler in schedulers:
            scheduler.leader.release()
        other_db.dispose()
