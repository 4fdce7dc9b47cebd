"""`handoff run` (what `make run` starts) serves the demo's sandboxes as one server whose
records are kept beside the SQLite store: a second run finds the first run's copies."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.bootstrap import Runtime, build_runtime, sandbox_state_beside
from bot.settings import Settings
from connectors.clock import FrozenClock
from sync_core.alerts import CollectingSink
from tests.conftest import REPO_ROOT
from tests.support.database import is_postgres


def _runtime(database_url: str) -> Runtime:
    settings = Settings.from_env(
        {}, map_path=REPO_ROOT / "examples" / "agency.yaml", database_url=database_url
    )
    return build_runtime(
        settings, alert_sink=CollectingSink(), clock=FrozenClock(), env={}, keep_sandboxes=True
    )


def _numbers(rt: Runtime) -> Counter[str]:
    xero = rt.sandboxes["xero"].demo.sandbox
    return Counter(c["ContactNumber"] for c in xero.contacts() if c.get("ContactNumber"))


@pytest.mark.skipif(is_postgres(), reason="the state file sits beside a SQLite store")
def test_a_second_run_finds_the_first_runs_records(database_url: str) -> None:
    first = _runtime(database_url)
    try:
        state = sandbox_state_beside(first.db)
        assert state is not None and state.name == "handoff-test.sandboxes.json"
        host = first.sandbox_host
        assert host is not None
        expected = {f"{host.url}/{v}" for v in ("pipedrive", "xero", "asana", "mailchimp")}
        assert {r.url for r in first.sandboxes.values()} == expected
        first.engine.sync_once()
        made = _numbers(first)
        assert made and set(made.values()) == {1}
    finally:
        first.close()
    assert state.exists()

    second = _runtime(database_url)
    try:
        assert second.sandbox_host is not None and second.sandbox_host.restored
        assert _numbers(second) == made  # kept, not seeded again
        second.engine.sync_once()
        assert _numbers(second) == made  # found, not made twice
    finally:
        second.close()


def test_other_commands_keep_fresh_sandboxes(database_url: str, tmp_path: Path) -> None:
    settings = Settings.from_env(
        {}, map_path=REPO_ROOT / "examples" / "agency.yaml", database_url=database_url
    )
    rt = build_runtime(settings, alert_sink=CollectingSink(), clock=FrozenClock(), env={})
    try:
        assert rt.sandbox_host is None
        assert len({r.url for r in rt.sandboxes.values()}) == 4
    finally:
        rt.close()
