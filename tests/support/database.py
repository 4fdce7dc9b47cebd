"""Test databases: the suite runs once on SQLite and once on PostgreSQL.

``HANDOFF_TEST_DATABASE_URL`` picks the engine: ``sqlite`` (a fresh file per test) or a
PostgreSQL URL (the schema is migrated once per session, and every test starts from empty
tables). Nothing creates tables outside the Alembic migrations.

A PostgreSQL database serves one test session at a time: another session's writes would land
in a test's emptied tables (a link of deal 1 minted ``PD-1`` by a sync in the other session,
found by a test that expects to mint deal 1 itself), and its truncation would empty them under
a test. The first session holds a lock on the database; a second one stops at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.pool import NullPool

from sync_core.store.db import make_engine, upgrade
from sync_core.store.models import Base
from sync_core.store.repositories import lock_key

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def configured_url() -> str:
    return os.environ.get("HANDOFF_TEST_DATABASE_URL", "sqlite")


def is_postgres() -> bool:
    return configured_url().startswith("postgresql")


def fresh_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'handoff-test.db'}"
    upgrade(url)
    return url


_migrated: set[str] = set()
_held: dict[str, Connection] = {}  # the session's lock on each database, held until it exits
SESSION_LOCK = lock_key("tests:one session a database")


class DatabaseInUse(RuntimeError):
    """Another test session is using this PostgreSQL database."""


def hold_session_lock(url: str) -> None:
    """Hold the database for this session (a session advisory lock on a connection kept
    open); :class:`DatabaseInUse` when another session holds it."""
    if url in _held:
        return
    connection = make_engine(url, poolclass=NullPool).connect()
    held = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": SESSION_LOCK})
    if not held.scalar():
        connection.close()
        name = url.rsplit("/", 1)[-1]
        raise DatabaseInUse(
            f"another test session is using the database {name}: each would empty the "
            "other's tables mid-test; wait for it, or give this session a database of its own"
        )
    connection.commit()  # the lock outlives the transaction; no transaction is left open
    _held[url] = connection


def postgres_url() -> str:
    url = configured_url()
    if url not in _migrated:
        hold_session_lock(url)
        engine = make_engine(url)
        with engine.begin() as connection:
            # Start the session from a clean schema so the migrations themselves are tested.
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        upgrade(url)
        _migrated.add(url)
    return url


def truncate_all(engine: Engine) -> None:
    names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
