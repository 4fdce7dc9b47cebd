"""Test databases: the suite runs once on SQLite and once on PostgreSQL.

``HANDOFF_TEST_DATABASE_URL`` picks the engine: ``sqlite`` (a fresh file per test) or a
PostgreSQL URL (the schema is migrated once per session, and every test starts from empty
tables). Nothing creates tables outside the Alembic migrations.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, text

from sync_core.store.db import make_engine, upgrade
from sync_core.store.models import Base

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


def postgres_url() -> str:
    url = configured_url()
    if url not in _migrated:
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
