"""Database engines and migrations: SQLite (embedded default, WAL) or PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sync_core.store import pg_ids, search, sqlite_ids

DEFAULT_DATABASE_URL = "sqlite:///handoff.db"
CONNECT_TIMEOUT_SECONDS = 10
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def database_url(explicit: str | None = None) -> str:
    """``explicit``, else ``HANDOFF_DATABASE_URL``, else a SQLite file in the working directory."""
    url = explicit or os.environ.get("HANDOFF_DATABASE_URL") or DEFAULT_DATABASE_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(url_or_engine: str | Engine) -> bool:
    url = url_or_engine.url if isinstance(url_or_engine, Engine) else make_url(url_or_engine)
    return url.get_backend_name() == "sqlite"


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url``. SQLite gets WAL, a busy timeout, and transactions that take the
    write lock at BEGIN, so two processes sharing the file serialise instead of failing."""
    url = database_url(url)
    if is_sqlite(url):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # An unreachable server fails in seconds (a health check must answer) instead of hanging.
    kwargs.setdefault("connect_args", {"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    return create_engine(url, **kwargs)


def unavailable(exc: BaseException) -> str | None:
    """Why the database cannot be reached or opened, in one line, when ``exc`` says so
    (refused or timed-out connection, unknown host or database, bad credentials, a SQLite
    file that cannot be created or is not a database, a malformed URL); ``None`` for any
    other error, which is not the database's state but a fault to look at."""
    if isinstance(exc, ArgumentError):
        return str(exc)
    if isinstance(exc, OperationalError | InterfaceError) or type(exc) is DatabaseError:
        orig = getattr(exc, "orig", None)
        reason = str(orig if orig is not None else exc)
        return " ".join(reason.split()) or type(exc).__name__
    return None


class _SQLiteCompiler(SQLiteCompiler):
    """SQLite's compiler, writing a query's table hints (``INDEXED BY ix_…``) after the table:
    SQLite gathers no statistics unless asked, and without them may choose an index that
    makes a query read and sort every row instead of the first few in order."""

    def get_from_hint_text(self, table: Any, text: str | None) -> str | None:
        return text


def _configure_sqlite(engine: Engine) -> None:
    engine.dialect.statement_compiler = _SQLiteCompiler

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE is ours to issue.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        search.note_sqlite_index(dbapi_connection, record.info)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    if is_sqlite(engine):
        sqlite_ids.install(sessions)  # a flush's new rows of a table in one executemany
    elif engine.dialect.name == "postgresql":
        pg_ids.install(sessions)  # the same, pipelined, instead of one INSERT of every row
    return sessions


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Apply the migrations up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "-1") -> None:
    """Undo migrations down to ``revision`` ("base": an empty database)."""
    command.downgrade(alembic_config(url), revision)


def known_revisions() -> tuple[str | None, set[str]]:
    """The newest migration this version of Handoff ships, and every one it knows."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return scripts.get_current_head(), {script.revision for script in scripts.walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
