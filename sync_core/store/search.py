"""The name search index: substring and typo-tolerant name queries without a table scan.

Every customer has a ``search_name`` (its canonical ID and every name it goes by, lower-case,
see :mod:`sync_core.naming`). ``/where``, its suggestions and the identity matcher ask for
the customers whose ``search_name`` contains a piece of text. A plain ``LIKE '%text%'`` reads
every row; migration 0006 adds an index of the names' trigrams (runs of three characters)
that answers the same question from the rows sharing the text's trigrams:

- PostgreSQL: a GIN index on ``search_name`` with ``pg_trgm``'s ``gin_trgm_ops``, which the
  planner uses for ``LIKE '%text%'`` itself; queries need no change. Since migration 0008 its
  pending list, which every search reads, holds at most 64 kB.
- SQLite (3.34 or newer, for FTS5's trigram tokenizer): ``entities_search``, an FTS5 table
  of the same names whose rowid is the entity's rowid, kept in step by triggers on
  ``entities``. Queries ``MATCH`` it for candidates and check each with the same ``LIKE``,
  so they find exactly what a scan would.

Text under three characters has no trigram: it is scanned as before. Where the index could
not be made (``CREATE EXTENSION pg_trgm`` refused, an older SQLite), the migration logs so and
every query scans, finding the same customers more slowly.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from sqlalchemy import Connection

log = logging.getLogger("handoff.store.search")

FTS_TABLE = "entities_search"
PG_INDEX = "ix_entities_search_name_trgm"
MIN_SQLITE = (3, 34, 0)  # FTS5's trigram tokenizer
TRIGRAM = 3  # the shortest text an index can look up
INDEX_INFO = "handoff_name_index"
PG_PENDING_LIST_KB = 64  # the least PostgreSQL allows (see pg_short_pending_list)

SQLITE_TRIGGERS = {
    f"{FTS_TABLE}_insert": (
        f"CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON entities BEGIN "
        f"INSERT INTO {FTS_TABLE}(rowid, search_name) VALUES (new.rowid, new.search_name); END"
    ),
    f"{FTS_TABLE}_update": (
        f"CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF search_name ON entities BEGIN "
        f"UPDATE {FTS_TABLE} SET search_name = new.search_name WHERE rowid = old.rowid; END"
    ),
    f"{FTS_TABLE}_delete": (
        f"CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON entities BEGIN "
        f"DELETE FROM {FTS_TABLE} WHERE rowid = old.rowid; END"
    ),
}


def pg_short_pending_list(connection: Connection) -> None:
    """Bound the pending list of PostgreSQL's trigram index to :data:`PG_PENDING_LIST_KB`
    and move what it holds into the index now.

    A GIN index keeps new entries in an unsorted pending list until a vacuum or the list's
    limit (``gin_pending_list_limit``, 4 MB by default) moves them into the index proper, and
    every search reads the whole list: at a million customers, 471 of a full name's 908 pages
    (``docs/benchmarks.md``). With 64 kB a search reads at most 8 pages of it, and the
    inserting session moves the list in small steps: 14 µs per new name against 10 µs with
    4 MB, where indexing each name at once (``fastupdate = off``) costs 56 µs."""
    if connection.dialect.name != "postgresql" or not _pg_index_exists(connection):
        return
    command = f"ALTER INDEX {PG_INDEX} SET (gin_pending_list_limit = {PG_PENDING_LIST_KB})"
    try:
        with connection.begin_nested():
            connection.exec_driver_sql(command)
            connection.exec_driver_sql(f"SELECT gin_clean_pending_list('{PG_INDEX}'::regclass)")
    except Exception as exc:  # an index made by hand by another role: only its owner may
        reason = " ".join(str(getattr(exc, "orig", exc)).split())
        log.warning(
            "the pending list of %s stays as it is (%s): searches read up to 4 MB of it; "
            "to bound it, have the index's owner run %s",
            PG_INDEX,
            reason,
            command,
        )


def pg_default_pending_list(connection: Connection) -> None:
    if connection.dialect.name == "postgresql" and _pg_index_exists(connection):
        connection.exec_driver_sql(f"ALTER INDEX {PG_INDEX} RESET (gin_pending_list_limit)")


def _pg_index_exists(connection: Connection) -> bool:
    found = connection.exec_driver_sql(f"SELECT to_regclass('{PG_INDEX}') IS NOT NULL").scalar_one()
    return bool(found)


def sqlite_has_trigram(version: str | None = None) -> bool:
    found = tuple(int(part) for part in (version or sqlite3.sqlite_version).split("."))
    return found >= MIN_SQLITE


def create(connection: Connection) -> bool:
    """Make the index on ``connection``'s database (in its transaction) and fill it from the
    entities there; ``False``, after a warning in the log, where this database cannot have
    one (queries then scan)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return _create_postgres(connection)
    if dialect == "sqlite":
        return _create_sqlite(connection)
    log.warning("no name search index on %s: name queries scan the entities table", dialect)
    return False


def drop(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")
    elif connection.dialect.name == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")


def rebuild_sqlite(connection: Connection) -> None:
    """Drop and make the SQLite index again from ``entities``: for a migration that
    recreates the ``entities`` table (SQLite's batch mode copies it into a new one, which
    loses its triggers and may renumber its rows)."""
    drop(connection)
    _create_sqlite(connection)


def _create_postgres(connection: Connection) -> bool:
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # refused: no right to create extensions, not installed
        reason = " ".join(str(getattr(exc, "orig", exc)).split())
        log.warning(
            "pg_trgm is not available (%s): no trigram index on entities.search_name, "
            "name queries scan the entities table; to add it, have a superuser run "
            "CREATE EXTENSION pg_trgm and CREATE INDEX %s ON entities "
            "USING gin (search_name gin_trgm_ops) WITH (gin_pending_list_limit = 64)",
            reason,
            PG_INDEX,
        )
        return False
    connection.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON entities USING gin (search_name gin_trgm_ops)"
    )
    return True


def _create_sqlite(connection: Connection) -> bool:
    version = connection.exec_driver_sql("SELECT sqlite_version()").scalar_one()
    if not sqlite_has_trigram(version):
        log.warning(
            "SQLite %s has no FTS5 trigram tokenizer (3.34 or newer has): no name search "
            "index, name queries scan the entities table",
            version,
        )
        return False
    try:
        connection.exec_driver_sql(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(search_name, tokenize='trigram')"
        )
    except Exception as exc:  # a build without FTS5
        log.warning("SQLite cannot make an FTS5 trigram table (%s): name queries scan", exc)
        return False
    connection.exec_driver_sql(
        f"INSERT INTO {FTS_TABLE}(rowid, search_name) SELECT rowid, search_name FROM entities"
    )
    for statement in SQLITE_TRIGGERS.values():
        connection.exec_driver_sql(statement)
    return True


def note_sqlite_index(dbapi_connection: Any, info: dict[str, Any]) -> None:
    """Remember in ``info`` (the pooled connection's) whether the database has the index;
    called when a connection is opened, so queries need not ask."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (FTS_TABLE,)
        )
        info[INDEX_INFO] = bool(cursor.fetchone()[0])
    finally:
        cursor.close()


def sqlite_index_present(connection: Connection) -> bool:
    """The SQLite index existed when this connection was opened. (A connection opened before
    migration 0006 ran elsewhere scans until it is replaced: slower, the same answers.)"""
    return bool(connection.connection.info.get(INDEX_INFO, False))


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 phrase: with the trigram tokenizer, rows containing it."""
    return '"' + text.replace('"', '""') + '"'


def fts_any(texts: list[str]) -> str:
    return " OR ".join(fts_phrase(t) for t in texts)


def not_the_index(name: str | None, type_: str, parent_names: Any) -> bool:
    """For Alembic's ``include_name``: leave the index's own objects out when comparing the
    models with the database (the models do not declare them)."""
    if type_ == "table" and name is not None and name.startswith(FTS_TABLE):
        return False  # the FTS5 table and its shadow tables
    return not (type_ == "index" and name == PG_INDEX)
