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
