"""On SQLite a flush's new rows of a table get their ids first and go in one executemany,
with the ids SQLite itself would have given, and never an id taken."""

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

pytestmark = pytest.mark.skipif(is_postgres(), reason="PostgreSQL returns a batch's ids")


def action(n: int) -> ActionRow:
    return ActionRow(at=AT, actor="test", action="note", subject=f"s{n}", reason=None)


def test_a_flush_of_many_rows_is_one_insert_with_the_next_ids(db: DbEngine) -> None:
    uow_factory = SqlUnitOfWorkFactory(db)
    with uow_factory() as uow:
        uow.session.add_all([action(n) for n in range(3)])  # ids 1..3, as SQLite gives them
        uow.commit()
    with uow_factory() as uow:
        uow.session.execute(text("DELETE FROM actions WHERE id = 3"))
        rows = [action(n) for n in range(3, 103)]
        uow.session.add_all(rows)
        with recorded(db) as sent:
            uow.flush()
        uow.commit()
    assert [s.many for s in sent if s.starts("INSERT INTO actions")] == [True]
    assert [row.id for row in rows] == list(range(3, 103))  # SQLite too reuses the top id
    with uow_factory() as uow:
        stored = uow.session.scalars(select(ActionRow.subject).order_by(ActionRow.id)).all()
    assert stored == [f"s{n}" for n in (0, 1, *range(3, 103))]


def test_ids_given_before_a_rolled_back_flush_are_not_given_twice(db: DbEngine) -> None:
    uow_factory = SqlUnitOfWorkFactory(db)
    with uow_factory() as uow:
        first = [action(n) for n in range(2)]
        try:
            with uow.session.begin_nested():
                uow.session.add_all(first)
                uow.flush()
                raise RuntimeError("the page fails")
        except RuntimeError:
            pass
        assert [row.id for row in first] == [1, 2]  # kept on the rows the rollback dropped
        again = [action(n) for n in range(2, 5)]
        uow.session.add_all([first[1], *again])  # one row comes back with its id
        uow.flush()
        uow.commit()
    assert first[1].id == 2 and sorted(row.id for row in again) == [3, 4, 5]
