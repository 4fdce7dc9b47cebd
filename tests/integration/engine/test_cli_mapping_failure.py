"""A map whose mapping fails on the records, end to end through `handoff` in real processes:
the records become dead `mapping` events with one alert, `sync --once` says so with exit 1,
and once the map is fixed `retry --dead` brings them back and the next pass delivers them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from sync_core.store.models import EventStatus
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.integration.engine.test_cli import AGENCY, handoff

TO_XERO = "won-deal-to-xero-contact"


def _map_with_name(tmp_path: Path, template: str) -> Path:
    data: dict[str, Any] = yaml.safe_load(AGENCY.read_text())
    flow = next(f for f in data["flows"] if f["name"] == TO_XERO)
    flow["fields"]["Name"] = template
    # accounting starts empty: with no contact typed in by hand to review, phase 1 starts live
    # (the demo's own mess holds it in its parallel period; see test_demo_first_start)
    data["systems"]["xero"]["options"]["seed"] = "empty"
    path = tmp_path / "integration.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_mapping_that_divides_by_zero_is_dead_alerted_and_retried_once_fixed(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    map_path = str(_map_with_name(tmp_path, "{{ value / 0 }}"))

    synced = handoff(database_url, "sync", "--once", "-c", map_path)

    assert synced.returncode == 1, synced.stderr + synced.stdout
    assert "Traceback" not in synced.stderr + synced.stdout
    audited = handoff(database_url, "audit", "--status", "dead", "--json", "-c", map_path)
    assert audited.returncode == 0, audited.stderr
    dead: list[dict[str, Any]] = json.loads(audited.stdout)
    assert dead and {e["flow"] for e in dead} == {TO_XERO}
    assert {e["error_kind"] for e in dead} == {"mapping"}
    for event in dead:
        assert event["payload"]["expression"] == "{{ value / 0 }}"
        assert "division by zero" in event["error_message"]
        assert event["canonical_id"].startswith("PD-")
    with uow_factory() as uow:
        alerts = list(uow.alerts.open_alerts())
        assert [a.group_key for a in alerts] == [f"flow:{TO_XERO}:mapping"]
        assert alerts[0].count == len(dead)
        assert set(uow.alerts.event_ids(alerts[0].id)) == {e["id"] for e in dead}

    fixed = str(_map_with_name(tmp_path, "{{ org_name }}"))
    retried = handoff(database_url, "retry", "--dead", "-c", fixed)
    assert retried.returncode == 0, retried.stderr
    assert f"requeued {len(dead)} dead event(s)" in retried.stdout
    delivered = handoff(database_url, "sync", "--once", "-c", fixed)
    assert delivered.returncode == 0, delivered.stderr + delivered.stdout

    with uow_factory() as uow:
        for event in dead:
            row = uow.events.get(event["id"])
            assert row is not None and row.status == EventStatus.DELIVERED.value
            assert isinstance(row.payload["Name"], str) and row.payload["Name"]
            assert row.target_external_id
    still_dead = handoff(database_url, "audit", "--status", "dead", "--json", "-c", fixed)
    assert json.loads(still_dead.stdout) == []
