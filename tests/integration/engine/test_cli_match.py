"""`handoff match` in real processes: proposals on the demo's mess, the terminal review, unlink
refusing what it cannot undo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.conftest import REPO_ROOT
from tests.integration.engine.test_cli import handoff, one_clean_line
from tests.support.demo_map import AGENCY, review_demo_map


def _typed(database_url: str, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HANDOFF_DATABASE_URL": database_url, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("HANDOFF_MAP", None)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_demo_mess_is_proposed_and_reviewed_in_the_terminal(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    demo = review_demo_map(tmp_path)  # Stark Industries Inc typed with no email
    assert handoff(database_url, "db", "upgrade").returncode == 0
    matched = handoff(database_url, "match", "client", "-c", str(demo))
    assert matched.returncode == 0, matched.stderr
    # the first start (this command's) linked the twins at or above auto_accept already:
    # what is left is the one for a person
    assert "1 proposal(s): open 1" in matched.stdout
    with uow_factory() as uow:
        applied = {
            r.name: r.status for r in uow.matches.for_entity("client") if r.ref == "xero.contact"
        }
        assert applied == {
            "Acme Limited": "applied",
            "Globex Corp.": "applied",
            "Stark Industries Inc": "open",
        }

    reviewed = _typed(
        database_url, "reject\nnot the same company\n", "match", "review", "-c", str(demo)
    )
    assert reviewed.returncode == 0, reviewed.stderr
    assert "Stark Industries Inc" in reviewed.stdout and "name 1.00 after removing Inc" in (
        " ".join(reviewed.stdout.split())
    )
    with uow_factory() as uow:
        rows = {r.name: r for r in uow.matches.for_entity("client")}
        assert rows["Stark Industries Inc"].status == "rejected"
        assert rows["Stark Industries Inc"].reason == "not the same company"
        assert rows["Stark Industries Inc"].decided_by and rows[
            "Stark Industries Inc"
        ].decided_by.startswith("cli:")

    unknown = handoff(database_url, "match", "customer", "-c", str(demo))
    assert "no entity 'customer' in the map (entities: client, invoice)" in one_clean_line(unknown)
    refused = handoff(database_url, "unlink", "PD-999", "xero.contact", "-r", "x", "-c", str(demo))
    assert "no customer PD-999" in one_clean_line(refused)


def test_match_into_empty_copies_says_the_crm_was_not_read(
    database_url: str, tmp_path: Path
) -> None:
    data = yaml.safe_load(AGENCY.read_text())
    for system in ("xero", "asana", "mailchimp"):  # no copy anywhere (an unknown seed: empty)
        data["systems"][system]["options"]["seed"] = "empty"
    demo = tmp_path / "agency.yaml"
    demo.write_text(yaml.safe_dump(data, sort_keys=False))
    assert handoff(database_url, "db", "upgrade").returncode == 0

    matched = handoff(database_url, "match", "client", "-c", str(demo))

    assert matched.returncode == 0, matched.stderr
    said = " ".join(matched.stdout.split())
    assert "read xero.contact 0, asana.project 0, mailchimp.member 0" in said
    assert "not read: pipedrive.deal (no copy free to match)" in said
    assert "0 proposal(s): nothing" in said


def test_match_lists_the_first_proposals_counts_every_one_and_json_lists_them_all(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli import app
    from sync_core.matching import storing

    demo = review_demo_map(tmp_path)
    monkeypatch.setenv("HANDOFF_DATABASE_URL", database_url)
    monkeypatch.delenv("HANDOFF_MAP", raising=False)
    assert CliRunner().invoke(app, ["db", "upgrade", "-c", str(demo)]).exit_code == 0
    # a report keeps only the first proposals to show (here none: the run finds one, Stark)
    monkeypatch.setattr(storing, "REPORT_ROWS", 0)

    shown = CliRunner().invoke(app, ["match", "run", "client", "-c", str(demo)])
    assert shown.exit_code == 0, shown.stdout
    said = " ".join(shown.stdout.split())
    assert "the first 0 listed; every one: handoff match run --json" in said
    assert "1 proposal(s): open 1" in said
    listed = CliRunner().invoke(app, ["match", "run", "client", "-c", str(demo), "--json"])
    assert listed.exit_code == 0, listed.stdout
    # every proposal, whatever REPORT_ROWS says (this process's sandboxes are new, so the
    # twins the first run linked are found again beside Stark)
    assert "Stark Industries Inc" in [p["name"] for p in json.loads(listed.stdout)]
