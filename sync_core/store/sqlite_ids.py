"""On SQLite, ids for the rows a flush inserts, so that they go in one ``executemany``.

SQLAlchemy needs each new row's generated id, and SQLite cannot return the ids of a
multi-row INSERT in order, so rows without an id are inserted one statement each. Every
SQLite transaction of Handoff takes the write lock at ``BEGIN`` (``BEGIN IMMEDIATE``, see
:mod:`sync_core.store.db`): nobody else can insert until it ends, so the next ids are the
table's largest plus one, two, … exactly what SQLite itself would give (the tables have no
``AUTOINCREMENT``). Given them before the flush, the rows of a table are inserted together.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

MIN_ROWS = 2  # one new row gains nothing from a query for the largest id


def install(sessions: sessionmaker[Session]) -> None:
    event.listen(sessions, "before_flush", _give_ids)


def _give_ids(session: Session, _context: Any, _instances: Any) -> None:
    pending: dict[Any, list[Any]] = defaultdict(list)
    for obj in session.new:
        mapper = type(obj).__mapper__
        if generated_id(mapper):
            pending[mapper].append(obj)
    for mapper, rows in pending.items():
        missing = [row for row in rows if row.id is None]
        if len(missing) < MIN_ROWS:
            continue
        table = mapper.local_table
        largest = session.execute(select(func.max(table.c.id))).scalar() or 0
        # ids set already on rows of this flush (one given before a rolled-back flush)
        largest = max([largest, *(row.id for row in rows if row.id is not None)])
        for offset, row in enumerate(missing, start=1):
            row.id = largest + offset


_GENERATED: dict[Any, bool] = {}


def generated_id(mapper: Any) -> bool:
    """The mapper's table has one integer primary key ``id`` that the database generates."""
    found = _GENERATED.get(mapper)
    if found is None:
        keys = list(mapper.local_table.primary_key.columns)
        found = (
            len(keys) == 1
            and keys[0].name == "id"
            and keys[0].autoincrement is True
            and keys[0].type.python_type is int
        )
        _GENERATED[mapper] = found
    return found
