"""Every command that reports something has ``--json``, and what it prints parses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import render
from bot.cli import app
from bot.logs import configure_logging
from sync_core.linking import Adopted
from sync_core.map.model import RecordRef
from tests.conftest import REPO_ROOT

AGENCY = str(REPO_ROOT / "examples" / "agency.yaml")


def _json(*args: str) -> object:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_each_command_prints_json_that_parses(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDOFF_DATABASE_URL", database_url)
    monkeypatch.delenv("HANDOFF_MAP", raising=False)
    monkeypatch.chdir(tmp_path)
    # as `handoff` itself does (bot.cli.main): log lines go to stderr, never into the JSON
    configure_logging({})

    upgraded = _json("db", "upgrade", "-c", AGENCY)
    assert isinstance(upgraded, dict)
    assert (upgraded["revision"], upgraded["map"]) == ("head", AGENCY)

    synced = _json("sync", "--once", "-c", AGENCY)
    assert isinstance(synced, dict)
    assert {p["source"] for p in synced["polls"]} >= {"pipedrive.deal", "xero.invoice"}
    assert synced["delivery"]["delivered"] > 0 and synced["failed"] is False

    compared = _json("phase", "compare", "3", "-c", AGENCY)
    assert isinstance(compared, dict) and compared["phase"] == 3
    assert isinstance(compared["comparisons"], list)

    assert _json("retry", "--dead") == {"requeued": 0}
    events = _json("audit", "--limit", "1")
    assert isinstance(events, list)
    first = events[0]["id"]
    assert _json("retry", str(first)) == {"event": first, "requeued": False}  # delivered

    pruned = _json("db", "prune", "--older-than", "30d", "--dry-run")
    assert pruned == {
        "dry_run": True,
        "events": 0,
        "attempts": 0,
        "shadow_writes": 0,
        "alerts": 0,
    }

    rolled = _json("phase", "rollback", "3", "-r", "not ready")
    assert isinstance(rolled, dict)
    assert (rolled["phase"], rolled["from_state"], rolled["to_state"]) == (3, "parallel", "planned")
    promoted = _json("phase", "promote", "3", "-r", "again")
    assert isinstance(promoted, dict) and promoted["to_state"] == "parallel"

    for args in (["phase", "status"], ["where", "PD-"], ["event", str(first)]):
        assert _json(*args)
    assert _json("check", AGENCY)
    assert _json("map", "render", AGENCY)


def test_link_json_names_the_adopted_record() -> None:
    adopted = Adopted("PD-7", RecordRef.parse("xero.contact"), "c-1", "Acme", "https://x/c-1")
    assert json.loads(json.dumps(render.adopted_dict(adopted))) == {
        "canonical_id": "PD-7",
        "record": "xero.contact",
        "external_id": "c-1",
        "display_name": "Acme",
        "url": "https://x/c-1",
    }
