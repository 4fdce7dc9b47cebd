"""Recording the SQL a block of code sends: tests count statements and read their plans."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

COMMIT = "-- commit"


class Statement(str):
    """One statement as sent: its SQL text, with the parameters it was sent with and whether
    it went as one ``executemany`` (however many rows that carried)."""

    params: Any
    many: bool

    def __new__(cls, sql: str, params: Any = None, many: bool = False) -> Statement:
        statement = super().__new__(cls, sql)
        statement.params = params
        statement.many = many
        return statement

    @property
    def flat(self) -> str:
        """The statement on one line, whitespace collapsed."""
        return " ".join(self.split())

    def starts(self, prefix: str) -> bool:
        return self.lstrip().upper().startswith(prefix.upper())


@contextmanager
def recorded(db: Engine, *, commits: bool = False) -> Iterator[list[Statement]]:
    """Every statement sent through ``db`` inside the block, in order; with ``commits``, each
    commit too, as a statement reading ``-- commit``."""
    seen: list[Statement] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        seen.append(Statement(sql, params, many))

    def commit(_conn: Any) -> None:
        seen.append(Statement(COMMIT))

    event.listen(db, "before_cursor_execute", record)
    if commits:
        event.listen(db, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(db, "before_cursor_execute", record)
        if commits:
            event.remove(db, "commit", commit)
