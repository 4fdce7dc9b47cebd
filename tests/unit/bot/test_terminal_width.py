"""Human tables wrap in an 80-column terminal: nothing is cut off with an ellipsis."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from bot.cli import app
from bot.render import folded
from tests.conftest import REPO_ROOT


def test_check_fits_80_columns_without_cutting_anything() -> None:
    demo = REPO_ROOT / "examples" / "agency.yaml"
    result = CliRunner().invoke(app, ["check", str(demo)], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout
    for words in ("person_email", "target.url", "ContactNumber", "XERO_REFRESH_TOKEN"):
        assert words in result.stdout


def test_a_long_word_is_folded_onto_the_next_line_not_cut() -> None:
    word = "custom_field:" + "x" * 120
    table = Table()
    table.add_column("field", no_wrap=True)
    table.add_column("value")
    table.add_row("a", word)
    out = io.StringIO()
    Console(file=out, width=80).print(folded(table))
    text = out.getvalue()
    assert "…" not in text
    pieces = "".join(line.strip("│┃ ") for line in text.splitlines())
    assert word in pieces
