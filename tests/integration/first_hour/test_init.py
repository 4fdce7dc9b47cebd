"""`handoff init` writes a starter map that passes `handoff check`, for every combination of
the three vendors (their HTTP sandboxes)."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app

VENDORS = ("asana", "pipedrive", "xero")
COMBINATIONS = [c for n in (1, 2, 3) for c in combinations(VENDORS, n)]


@pytest.fixture(autouse=True)
def _store(database_url: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("HANDOFF_DATABASE_URL", database_url)


@pytest.mark.parametrize("vendors", COMBINATIONS, ids="+".join)
def test_init_output_passes_check(vendors: tuple[str, ...], tmp_path: Path) -> None:
    target = tmp_path / "integration.yaml"
    args = ["init", "--sandbox", "-o", str(target), "--json"]
    for vendor in vendors:
        args += ["--system", vendor]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)
    data = yaml.safe_load(target.read_text())
    assert sorted(data["systems"]) == sorted(vendors)
    for system in data["systems"].values():
        assert system["base_url"] == "sandbox"
        assert all(str(v).startswith("env:") for v in system["auth"].values())
    assert [p["id"] for p in data["phases"]] == [1, 2, 3]
    check = CliRunner().invoke(app, ["check", str(target), "--json"])
    assert check.exit_code == 0, check.output
    assert json.loads(check.output)["ok"]
    if len(vendors) > 1:
        # every system takes part: the entity is minted in one and copied to the others
        (entity,) = written["entities"].values()
        refs = [entity["minted_by"], *entity["copies"]]
        assert sorted(ref.split(".")[0] for ref in refs) == sorted(vendors)
        assert len(data["flows"]) == len(vendors) - 1


def test_init_pairs_the_record_types_that_hold_the_same_customers(tmp_path: Path) -> None:
    target = tmp_path / "map.yaml"
    args = ["init", "--sandbox", "-s", "pipedrive", "-s", "xero", "-o", str(target), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    entity = json.loads(result.output)["entities"]["organization"]
    assert entity["minted_by"] == "pipedrive.organization"  # its records were made first
    assert entity["copies"] == {"xero.contact": "ContactNumber"}
    assert "look alike" in entity["why"]
    text = target.read_text()
    assert "# Minted by pipedrive.organization: its first record was created first" in text
    # a second run does not overwrite the map someone may have edited
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "exists" in again.output


def test_init_refuses_an_unknown_system(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["init", "--sandbox", "-s", "salesforce", "-o", str(tmp_path / "m.yaml")]
    )
    assert result.exit_code == 2 and "unknown system salesforce" in result.output


def test_init_asks_which_systems(tmp_path: Path) -> None:
    target = tmp_path / "asked.yaml"
    result = CliRunner().invoke(
        app, ["init", "--ask", "--sandbox", "-o", str(target)], input="pipedrive, asana\n"
    )
    assert result.exit_code == 0, result.output
    assert "Which systems should Handoff connect?" in result.output
    assert sorted(yaml.safe_load(target.read_text())["systems"]) == ["asana", "pipedrive"]
