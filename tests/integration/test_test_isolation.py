"""The suite's own isolation on a shared PostgreSQL database: nothing but the test under way
writes to it. A second session on the same database stops before it drops or empties a table,
and a process a test started does not outlive the test."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from sync_core.store.models import EntityRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.conftest import REPO_ROOT
from tests.support.database import is_postgres
from tests.support.processes import Spawned

NOW = datetime(2026, 3, 2, 10, 42, tzinfo=UTC)
MINTING = "tests/unit/test_minting.py::test_a_taken_code_moves_on_to_the_next"


@pytest.mark.skipif(not is_postgres(), reason="SQLite gives each test a file of its own")
def test_a_second_session_on_the_database_stops_and_leaves_the_tables_alone(
    database_url: str, uow_factory: SqlUnitOfWorkFactory
) -> None:
    with uow_factory() as uow:
        uow.entities.add(
            EntityRow(
                canonical_id="PD-1",
                entity="client",
                display_name="Acme Ltd",
                search_name="pd-1 | acme ltd",
                minted_by="pipedrive.deal",
                created_at=NOW,
                updated_at=NOW,
            )
        )
        uow.commit()
    env = {**os.environ, "HANDOFF_TEST_DATABASE_URL": database_url}
    other = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", MINTING],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other.returncode != 0
    assert "another test session is using the database" in other.stdout, other.stdout
    with uow_factory() as uow:  # neither dropped nor emptied
        assert uow.entities.get("PD-1") is not None


def test_a_process_a_test_started_is_killed_when_it_ends() -> None:
    spawned = Spawned()
    sleeper = spawned.track(
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], text=True)
    )
    done = spawned.track(subprocess.Popen([sys.executable, "-c", "pass"], text=True))
    done.wait(30)
    assert spawned.reap() == [sleeper.pid]
    assert sleeper.returncode is not None
