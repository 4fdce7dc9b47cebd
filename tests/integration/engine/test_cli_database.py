"""A store that cannot be reached or opened: one line on stderr and exit 2 from every
command that needs it, never a traceback; ``/healthz`` says the same with a 503."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import REPO_ROOT

AGENCY = str(REPO_ROOT / "examples" / "agency.yaml")
COMMANDS = [
    ["where", "acme"],
    ["audit"],
    ["event", "1"],
    ["retry", "--dead"],
    ["sync", "--once", "-c", AGENCY],
    ["run", "-c", AGENCY],
    ["db", "upgrade"],
    ["db", "prune", "--older-than", "30d"],
    ["phase", "status"],
    ["phase", "compare", "1", "-c", AGENCY],
    ["link", "ACME-1", "xero.contact", "x-1"],
]


def not_a_database(tmp_path: Path) -> str:
    path = tmp_path / "notes.db"
    path.write_text("this file is not a database\n" * 100)
    return f"sqlite:///{path}"


STORES = {
    "refused": (
        lambda _tmp: "postgresql+psycopg://nobody@127.0.0.1:1/x",
        "cannot use the database at postgresql+psycopg://nobody@127.0.0.1:1/x: ",
        "Connection refused",
    ),
    "missing directory": (
        lambda tmp: f"sqlite:///{tmp / 'missing' / 'dir' / 'handoff.db'}",
        "cannot use the database at sqlite:///",
        "unable to open database file",
    ),
    "not a database": (not_a_database, "cannot use the database at sqlite:///", "not a database"),
}


@pytest.mark.parametrize("store", sorted(STORES))
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_says_in_one_line_that_the_store_cannot_be_used(
    store: str, command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, start, reason = STORES[store]
    monkeypatch.setenv("HANDOFF_DATABASE_URL", url(tmp_path))
    monkeypatch.delenv("HANDOFF_MAP", raising=False)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, command)

    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("handoff: " + start), lines[0]
    assert reason in lines[0]


def test_a_password_in_the_url_is_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_DATABASE_URL", "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/x")

    result = CliRunner().invoke(app, ["where", "acme"])

    assert result.exit_code == 2
    assert "s3cret" not in result.stdout + result.stderr
    assert "nobody:***@127.0.0.1:1/x" in result.stderr
