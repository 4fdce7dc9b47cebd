"""`handoff discover` and `handoff fields` read the demo map's HTTP sandboxes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import REPO_ROOT

AGENCY = str(REPO_ROOT / "examples" / "agency.yaml")


@pytest.fixture(autouse=True)
def _store(database_url: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("HANDOFF_DATABASE_URL", database_url)


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_discover_counts_describes_masks_and_finds_twins() -> None:
    found = invoke("discover", "-c", AGENCY, "--json")
    by_ref = {r["ref"]: r for r in found["record_types"]}
    assert by_ref["pipedrive.deal"]["count"] == 30 and by_ref["xero.contact"]["count"] == 3
    assert by_ref["asana.task"]["error"]  # no project option: said, not fatal
    assert by_ref["xero.contact"]["carrying_canonical_id"] == {"ContactNumber": 0}
    assert by_ref["pipedrive.deal"]["first_created"]
    fields = {f["name"]: f for f in by_ref["pipedrive.deal"]["fields"]}
    assert fields["value"]["type"] == "number" and fields["add_time"]["type"] == "date"
    assert fields["person_email"]["samples"][0] == "j***@acme.example"
    assert fields["person_name"]["samples"][0] == "J."
    persons = {f["name"]: f for f in by_ref["pipedrive.person"]["fields"]}
    assert persons["name"]["samples"][0] == "J."  # a person's display name is masked
    members = {f["name"]: f for f in by_ref["mailchimp.member"]["fields"]}
    assert by_ref["mailchimp.member"]["count"] == 3  # the spreadsheet import, written just now
    assert members["FNAME"]["samples"][0] == "J." and members["LNAME"]["samples"][0] == "D."
    assert members["full_name"]["samples"][0] == "J. D."
    text = json.dumps(found)
    assert "jane@acme.example" not in text and '"Jane"' not in text
    pairs = {(t["left"], t["left_name"], t["right"], t["right_name"]) for t in found["twins"]}
    assert ("pipedrive.organization", "Acme Ltd", "xero.contact", "Acme Limited") in pairs
    # the map's client entity compares deals on its match keys (org name, person's email)
    assert ("pipedrive.deal", "Acme Ltd", "xero.contact", "Acme Limited") in pairs
    assert (
        "pipedrive.organization",
        "Stark Industries",
        "xero.contact",
        "Stark Industries Inc",
    ) in pairs


def test_discover_in_words_fits_a_terminal() -> None:
    result = CliRunner().invoke(app, ["discover", "-c", AGENCY], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "Likely the same customer" in result.output
    # a narrow column may fold a name across lines: "Acme" and "Limited" are both shown
    words = result.output.split()
    assert "Acme" in words and "Limited" in words
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_fields_lists_declared_custom_and_map_names(tmp_path: Path) -> None:
    rows = invoke("fields", "pipedrive.deal", "-c", AGENCY, "--json")
    by_name = {r["name"]: r for r in rows}
    assert by_name["owner_id"]["readable"] and by_name["owner_id"]["writable"]
    assert by_name["owner_name"]["readable"] and not by_name["owner_name"]["writable"]
    assert by_name["owner_name"]["samples"] == ["S. O."]  # a person: masked
    assert by_name["title"]["writable"] and by_name["title"]["in_a_map"] == "{{ title }}"
    assert by_name["id"]["kind"] == "vendor id"
    # declared by the map, not yet on any record: still listed, with its expression
    assert by_name["Invoice status"]["kind"] == "custom"
    assert by_name["Invoice status"]["in_a_map"] == '{{ record["Invoice status"] }}'
    organization = {
        r["name"]: r for r in invoke("fields", "pipedrive.organization", "-c", AGENCY, "--json")
    }
    assert organization["owner_id"]["readable"] and organization["owner_id"]["writable"]
    contact = {r["name"]: r for r in invoke("fields", "xero.contact", "-c", AGENCY, "--json")}
    assert contact["ContactGroups"]["readable"] and not contact["ContactGroups"]["writable"]


def test_fields_of_an_unknown_record_type_is_one_line() -> None:
    result = CliRunner().invoke(app, ["fields", "xero.deal", "-c", AGENCY])
    assert result.exit_code == 2
    assert "xero has no record type 'deal' (contact, invoice)" in result.output


def test_reading_makes_no_store_file(tmp_path: Path, monkeypatch: Any) -> None:
    store = tmp_path / "handoff.db"
    monkeypatch.setenv("HANDOFF_DATABASE_URL", f"sqlite:///{store}")
    invoke("discover", "-c", AGENCY, "--json")
    assert not store.exists()


def test_fields_of_a_record_type_that_cannot_be_read_lists_the_declared_ones() -> None:
    result = CliRunner().invoke(app, ["fields", "asana.task", "-c", AGENCY, "--json"])
    assert result.exit_code == 0, result.output
    assert "cannot read asana.task" in result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["assignee"]["writable"] and rows["gid"]["kind"] == "vendor id"
