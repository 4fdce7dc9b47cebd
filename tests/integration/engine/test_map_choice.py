"""The store remembers the map it runs with; commands never fall back to the demo map quietly."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.map_choice import MapChoiceError, choose_map, record_map
from bot.settings import DEMO_MAP, Settings
from sync_core.store.store_settings import remembered_map
from tests.integration.engine.test_cli import AGENCY, handoff, one_clean_line


def own_map(tmp_path: Path, name: str = "ours.yaml") -> Path:
    path = tmp_path / name
    path.write_text(AGENCY.read_text().replace("Deal won → invoice contact", "Our phase one"))
    return path


def settings(map_path: Path | None = None, *, map_changed: bool = False) -> Settings:
    return Settings.from_env({}, map_path=map_path, map_changed=map_changed)


def test_a_fresh_store_runs_the_demo_map_and_remembers_it(db: Engine) -> None:
    assert remembered_map(db) is None
    choice = choose_map(settings(), db, adopt=True)
    assert choice.path == DEMO_MAP.resolve() and choice.note is None
    record_map(db, choice.path)
    remembered = remembered_map(db)
    assert remembered is not None and remembered.path == str(DEMO_MAP.resolve())


def test_without_c_the_remembered_map_is_used_not_the_demo(db: Engine, tmp_path: Path) -> None:
    ours = own_map(tmp_path)
    record_map(db, ours)
    assert choose_map(settings(), db, adopt=False).path == ours.resolve()
    # HANDOFF_MAP names a map just as -c does
    named = Settings.from_env({"HANDOFF_MAP": str(ours)})
    assert named.map_given and choose_map(named, db, adopt=False).path == ours.resolve()


def test_a_different_map_stops_a_command_unless_it_adopts_it(db: Engine, tmp_path: Path) -> None:
    ours = own_map(tmp_path)
    record_map(db, ours)
    with pytest.raises(MapChoiceError) as raised:
        choose_map(settings(DEMO_MAP), db, adopt=False)
    message = str(raised.value)
    assert message.startswith("the maps differ") and "--map-changed" in message
    assert str(ours.resolve()) in message and str(DEMO_MAP) in message
    choice = choose_map(settings(DEMO_MAP, map_changed=True), db, adopt=True)
    assert choice.path == DEMO_MAP.resolve()
    assert choice.note is not None and str(ours.resolve()) in choice.note


def test_the_same_content_under_another_path_is_the_same_map(db: Engine, tmp_path: Path) -> None:
    record_map(db, own_map(tmp_path))
    copy = own_map(tmp_path, "copy.yaml")
    assert choose_map(settings(copy), db, adopt=False).path == copy.resolve()


def test_a_remembered_map_that_changed_or_vanished_is_named(db: Engine, tmp_path: Path) -> None:
    ours = own_map(tmp_path)
    record_map(db, ours)
    ours.write_text(ours.read_text() + "\n# edited\n")
    with pytest.raises(MapChoiceError, match="the maps differ"):
        choose_map(settings(), db, adopt=False)
    assert choose_map(settings(), db, adopt=True).note is not None  # `run` takes the edit
    ours.unlink()
    with pytest.raises(MapChoiceError, match="no longer exists: name the map with -c"):
        choose_map(settings(), db, adopt=True)


def test_the_cli_uses_the_remembered_map_and_says_when_maps_differ(
    database_url: str, tmp_path: Path
) -> None:
    ours = own_map(tmp_path)
    upgraded = handoff(database_url, "db", "upgrade", "-c", str(ours))
    assert upgraded.returncode == 0, upgraded.stderr
    status = handoff(database_url, "phase", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)[0]["name"] == "Our phase one"

    line = one_clean_line(handoff(database_url, "audit", "-c", str(AGENCY)))
    assert line.startswith("handoff: the maps differ")

    adopted = handoff(database_url, "audit", "-c", str(AGENCY), "--map-changed")
    assert adopted.returncode == 0, adopted.stderr
    status = handoff(database_url, "phase", "status", "--json")
    assert json.loads(status.stdout)[0]["name"] == "Deal won → invoice contact"


def test_processes_starting_at_once_each_remember_the_map_without_a_conflict(db: Engine) -> None:
    """Two ``sync --once`` processes starting together both write the map row; neither fails."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from sync_core.store.store_settings import RememberedMap, remember_map

    start = threading.Barrier(6)

    def remember(n: int) -> None:
        start.wait()
        remember_map(db, RememberedMap(f"/maps/{n}.yaml", f"{n:064x}"), datetime.now(UTC))

    with ThreadPoolExecutor(6) as pool:
        for result in [pool.submit(remember, n) for n in range(6)]:
            result.result()
    remembered = remembered_map(db)
    assert remembered is not None
    assert remembered.sha256 == f"{int(remembered.path[len('/maps/') : -len('.yaml')]):064x}"
