"""The crash test: nothing lost, nothing doubled, nothing unfinished, every dead event alerted
and every process still holding its credentials after 50 SIGKILLs during a backfill with the
vendors failing. ``HANDOFF_CHAOS_SEED`` replays a run; the seed is printed either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.harness import ChaosConfig, run_chaos, seed_from_env

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
def test_kills_and_faults_lose_and_double_nothing(database_url: str, tmp_path: Path) -> None:
    config = ChaosConfig(workdir=tmp_path, database_url=database_url, records=200, kills=50)
    seed = seed_from_env()
    if seed is not None:
        config.seed = seed
    result = run_chaos(config)
    assert result.kills >= 50
    assert result.records >= 200
    # every promise checked before failing, so a failure names each broken one with numbers
    assert not result.failures(), f"{result.figures()}: {result.failures()}"
