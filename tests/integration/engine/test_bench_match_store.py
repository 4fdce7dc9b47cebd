"""The matching store bench runs both ways on the store under test and reports the
statements on ``match_records``: a page or a chunk at a time, not one a record."""

from __future__ import annotations

import re

import pytest

from bench.match_store import run


def test_the_bench_reports_both_ways_and_their_statements(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(database_url, 300)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1:3] for line in lines] == [["handoff", "match"], ["first", "start"]]
    for line in lines:
        found = re.search(r"records\s+([\d,]+)\s+proposals\s+([\d,]+)", line)
        assert found is not None and found.groups() == ("555", "255"), line
        statements = re.search(r"in ([\d,]+) statements", line)
        assert statements is not None and int(statements.group(1).replace(",", "")) <= 20, line
