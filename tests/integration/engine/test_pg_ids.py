"""On PostgreSQL a flush's new rows of a table get their ids from the table's sequence first
and go as one short statement executed for each row (pipelined), not as one INSERT holding
every row's values, which the driver parsed anew at every page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine as DbEngine
from sqlalchemy import select, text

from sync_core.store.models import ActionRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.support.database import is_postgres
from tests.support.statements import recorded

AT = datetime(2026, 1, 1, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not is_postgres(), reason="SQLite has its own (test_sqlite_ids)")


def action(n: int) -> ActionRow:
    return ActionRow(at=AT, actor="test", action="note", subject=f"s{n}", reason=None)


def test_a_flush_of_many_rows_takes_ids_from_the_sequence_and_runs_one_short_insert(
    db: DbEngine,
) -> None:
    uow_factory = SqlUnitOfWorkFactory(db)
    with uow_factory() as uow:
        uow.session.add_all([action(n) for n in range(2)])  # few rows: ids from the INSERT
        uow.commit()
    with uow_factory() as uow:
        rows = [action(n) for n in range(2, 102)]
        uow.session.add_all(rows)
        with recorded(db) as sent:
            uow.flush()
        uow.commit()
    [statement] = [s for s in sent if s.starts("INSERT INTO actions")]
    params, many = statement.params, statement.many
    assert many and len(params) == 100
    assert statement.upper().count("VALUES") == 1 and "RETURNING" not in statement.upper()
    ids = [row.id for row in rows]
    assert ids == sorted(ids) and len(set(ids)) == 100 and ids[0] > 2  # in the order added
    with uow_factory() as uow:
        stored = uow.session.scalars(select(ActionRow.subject).order_by(ActionRow.id)).all()
        # the sequence moved past them: the next row the database numbers comes after
        uow.session.add(action(102))
        uow.commit()
        last = uow.session.scalar(select(ActionRow.id).where(ActionRow.subject == "s102"))
    assert stored == [f"s{n}" for n in range(102)]
    assert last is not None and last > ids[-1]


def test_a_few_rows_are_left_to_the_database(db: DbEngine) -> None:
    uow_factory = SqlUnitOfWorkFactory(db)
    with uow_factory() as uow:
        rows = [action(n) for n in range(3)]
        uow.session.add_all(rows)
        with recorded(db) as sent:
            uow.flush()
        uow.commit()
    assert [row.id for row in rows] == [1, 2, 3]
    seen = [s for s in sent if s.starts("INSERT INTO actions")]
    assert all("RETURNING" in statement.upper() for statement in seen)
    with uow_factory() as uow:
        assert uow.session.execute(text("SELECT count(*) FROM actions")).scalar() == 3
