"""Shared fixtures: a migrated database on the configured engine, a frozen clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from connectors.clock import FrozenClock
from sync_core.store.db import make_engine
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.support.database import fresh_sqlite, is_postgres, postgres_url, truncate_all
from tests.support.processes import Spawned

REPO_ROOT = Path(__file__).resolve().parents[1]

# Tests talk to 127.0.0.1 only; proxies from the environment would swallow that traffic.
for _name in (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
):
    os.environ.pop(_name, None)
os.environ.setdefault("HANDOFF_SPECS_DIR", str((REPO_ROOT.parent / "shared" / "specs").resolve()))


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on the engine under test."""
    if is_postgres():
        url = postgres_url()
        engine = make_engine(url)
        truncate_all(engine)
        engine.dispose()
        yield url
    else:
        yield fresh_sqlite(tmp_path)


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def uow_factory(db: Engine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(db)


@pytest.fixture
def spawned() -> Iterator[Spawned]:
    """Track the processes a test starts: any still running when it ends is killed."""
    processes = Spawned()
    yield processes
    processes.reap()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()
