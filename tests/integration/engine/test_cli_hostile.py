"""Hostile input to the command line: huge numbers and durations, negative limits, huge
queries and terminal escape sequences in data each give one line or a bounded answer."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from sync_core.store.models import EntityRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.integration.engine.test_cli import AGENCY, handoff, one_clean_line

HUGE_ID = "99999999999999999999"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("audit", "--since", "99999999999d"), "--since 99999999999d"),
        (("db", "prune", "--older-than", "3000000d"), "--older-than 3000000d"),
        (("audit", "--limit", "-1"), "--limit -1"),
        (("event", HUGE_ID), f"no event {HUGE_ID}"),
        (("retry", HUGE_ID), f"no event {HUGE_ID}"),
    ],
)
def test_out_of_range_input_is_one_line_and_exit_2(
    database_url: str, args: tuple[str, ...], says: str
) -> None:
    line = one_clean_line(handoff(database_url, *args, *_config(args)))
    assert says in line


def _config(args: tuple[str, ...]) -> tuple[str, ...]:
    return () if args[0] == "db" else ("-c", str(AGENCY))


def test_a_huge_where_query_is_refused_quickly(database_url: str) -> None:
    started = time.monotonic()
    line = one_clean_line(handoff(database_url, "where", "x" * 100_000, "-c", str(AGENCY)))
    assert "at most 200 characters" in line
    assert time.monotonic() - started < 30


def test_escape_sequences_in_data_never_reach_the_terminal(
    database_url: str, uow_factory: SqlUnitOfWorkFactory
) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    name = "Evil \x1b[2J\x1b[31mCorp [bold]x[/bold]"
    with uow_factory() as uow:
        uow.entities.add(
            EntityRow(
                canonical_id="PD-666",
                entity="customer",
                display_name=name,
                search_name="evil corp",
                minted_by="pipedrive",
                created_at=now,
                updated_at=now,
            )
        )
        uow.commit()
    found = handoff(database_url, "where", "evil", "-c", str(AGENCY))
    assert found.returncode == 0, found.stderr
    assert "\x1b" not in found.stdout
    assert "Evil [2J[31mCorp [bold]x[/bold]" in " ".join(found.stdout.split())

    missing = handoff(database_url, "where", "nobody\x1b[31m", "-c", str(AGENCY))
    assert missing.returncode == 1
    assert "\x1b" not in missing.stdout + missing.stderr
