"""The `handoff` command line against the test database, in a real process each time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sync_core.store.models import EventStatus
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.conftest import REPO_ROOT

AGENCY = REPO_ROOT / "examples" / "agency.yaml"


def handoff(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HANDOFF_DATABASE_URL": database_url, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("HANDOFF_MAP", None)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_clean_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_upgrade_sync_where_audit_and_retry(
    database_url: str, uow_factory: SqlUnitOfWorkFactory
) -> None:
    upgraded = handoff(database_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "revision head" in " ".join(upgraded.stdout.split())

    synced = handoff(database_url, "sync", "--once", "-c", str(AGENCY))
    assert synced.returncode == 0, synced.stderr + synced.stdout

    found = handoff(database_url, "where", "acme", "--json", "-c", str(AGENCY))
    assert found.returncode == 0, found.stderr
    (acme,) = json.loads(found.stdout)
    assert acme["canonical_id"].startswith("PD-")
    assert acme["display_name"].startswith("Acme")
    assert {r["system"] for r in acme["records"]} == {"pipedrive", "xero", "asana", "mailchimp"}
    assert acme["latest_events"]
    # Phase 1 starts live (its twins typed by hand are linked at first start): Acme's contact
    # and draft invoice are written to accounting, like every other flow's record.
    by_flow = {e["flow"]: e["status"] for e in acme["latest_events"]}
    assert "won-deal-to-draft-invoice" in by_flow and set(by_flow.values()) == {"delivered"}
    xero = sorted(r["record_type"] for r in acme["records"] if r["system"] == "xero")
    assert xero == ["contact", "invoice"]

    audited = handoff(database_url, "audit", "--status", "delivered", "--json", "-c", str(AGENCY))
    assert audited.returncode == 0, audited.stderr
    events: list[dict[str, Any]] = json.loads(audited.stdout)
    assert events and {e["status"] for e in events} == {"delivered"}
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)

    # Kill one delivered event by hand, then requeue every dead one.
    dead_id = events[0]["id"]
    with uow_factory() as uow:
        event = uow.events.get(dead_id)
        assert event is not None
        event.status = EventStatus.DEAD.value
        uow.commit()
    retried = handoff(database_url, "retry", "--dead", "-c", str(AGENCY))
    assert retried.returncode == 0, retried.stderr
    assert "requeued 1 dead event(s)" in retried.stdout
    with uow_factory() as uow:
        event = uow.events.get(dead_id)
        assert event is not None and event.status == EventStatus.PENDING.value


def test_db_upgrade_creates_the_schema_in_a_new_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert handoff(url, "db", "upgrade").returncode == 0
    found = handoff(url, "where", "acme", "-c", str(AGENCY))
    assert found.returncode == 1  # a migrated, empty store: nothing found, no error
    assert "Traceback" not in found.stderr


def test_retry_without_an_event_or_dead_is_one_line(database_url: str) -> None:
    line = one_clean_line(handoff(database_url, "retry", "-c", str(AGENCY)))
    assert "EVENT_ID or --dead" in line


def test_a_missing_map_is_one_line(database_url: str, tmp_path: Path) -> None:
    line = one_clean_line(handoff(database_url, "sync", "--once", "-c", str(tmp_path / "no.yaml")))
    assert "no.yaml" in line


def test_an_unmigrated_database_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    line = one_clean_line(handoff(url, "where", "acme", "-c", str(AGENCY)))
    assert "handoff db upgrade" in line


def test_a_broken_map_is_one_line(database_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nname: [broken\n")
    line = one_clean_line(handoff(database_url, "sync", "--once", "-c", str(broken)))
    assert line.startswith(f"{broken}:")


def test_audit_shows_the_customer_s_name_beside_its_canonical_id(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # the table unwrapped
    assert handoff(database_url, "db", "upgrade").returncode == 0
    assert handoff(database_url, "sync", "--once", "-c", str(AGENCY)).returncode == 0

    audited = handoff(database_url, "audit", "--json", "-c", str(AGENCY))
    events: list[dict[str, Any]] = json.loads(audited.stdout)
    named = [e for e in events if e["display_name"]]
    assert named and len(named) == len(events)
    found = handoff(database_url, "where", named[0]["canonical_id"], "--json", "-c", str(AGENCY))
    assert json.loads(found.stdout)[0]["display_name"] == named[0]["display_name"]

    one = named[0]
    shown = handoff(database_url, "audit", "--canonical-id", one["canonical_id"], "-c", str(AGENCY))
    assert f"{one['display_name']} ({one['canonical_id']})" in " ".join(shown.stdout.split())
