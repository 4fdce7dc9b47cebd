"""`handoff phase ...`: status, gates, promotion with a reason, rollback, the audit trail."""

from __future__ import annotations

import json
from pathlib import Path

from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.integration.engine.test_cli import handoff, one_clean_line
from tests.support.demo_map import review_demo_map


def test_status_promote_and_rollback(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    demo = review_demo_map(tmp_path)
    assert handoff(database_url, "sync", "--once", "-c", str(demo)).returncode == 0

    status = handoff(database_url, "phase", "status", "--json", "-c", str(demo))
    assert status.returncode == 0, status.stderr
    phases = {p["id"]: p for p in json.loads(status.stdout)}
    # phase 1 is declared live, held in its parallel period at first start: Stark Industries
    # Inc in accounting (no email on the agency-review seed) is a probable match for a person
    assert [phases[i]["state"] for i in (1, 2, 3, 4)] == ["parallel", "live", "parallel", "live"]
    gates_1 = {g["name"]: g for g in phases[1]["gates"]}
    assert not gates_1["no_unreviewed_matches"]["passed"]
    assert "xero.contact (1)" in gates_1["no_unreviewed_matches"]["detail"]
    gates = {g["name"]: g["passed"] for g in phases[3]["gates"]}
    assert gates == {
        "parallel_period": False,
        "no_dead_events": True,
        "no_unreviewed_matches": True,
    }

    refused = handoff(database_url, "phase", "promote", "3", "-r", "looks fine", "-c", str(demo))
    assert "parallel_period" in one_clean_line(refused)

    promoted = handoff(
        database_url, "phase", "promote", "3", "-r", "sales asked", "--override", "-c", str(demo)
    )
    assert promoted.returncode == 0, promoted.stderr
    assert "parallel → live" in promoted.stdout
    assert "manual step retired" in promoted.stdout

    rolled = handoff(database_url, "phase", "rollback", "3", "-r", "wrong status", "-c", str(demo))
    assert rolled.returncode == 0 and "live → parallel" in rolled.stdout

    with uow_factory() as uow:
        changes = [
            (c.from_state, c.to_state, c.reason, c.gates_overridden) for c in uow.phases.changes(3)
        ]
    assert changes == [
        ("parallel", "live", "sales asked", "parallel_period"),
        ("live", "parallel", "wrong status", None),
    ]

    compared = handoff(database_url, "phase", "compare", "3", "-c", str(demo))
    assert compared.returncode == 0, compared.stderr
    assert "compared" in compared.stdout
