"""The engine bench reads the CPU of the PostgreSQL backends serving it from /proc (when the
server runs on this machine); SQLite has no server to read."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bench.engine import server_cpu
from tests.support.database import is_postgres


def test_server_cpu_names_each_backend_of_this_database(db: Engine) -> None:
    if not is_postgres():
        assert server_cpu(db) is None
        return
    with db.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        if not Path(f"/proc/{pid}").exists():
            pytest.skip("the PostgreSQL server runs on another machine")
        before = server_cpu(db)
        assert before is not None and pid in before
        connection.execute(text("SELECT count(*) FROM generate_series(1, 3000000)")).scalar_one()
        after = server_cpu(db)
    assert after is not None and after[pid] > before[pid] >= 0
