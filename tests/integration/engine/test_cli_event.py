"""`handoff event ID`: one event with its attempts, their HTTP exchanges and the hands on it."""

from __future__ import annotations

import json

from tests.integration.engine.test_cli import AGENCY, handoff, one_clean_line


def test_event_shows_attempts_with_their_exchanges(database_url: str) -> None:
    assert handoff(database_url, "sync", "--once", "-c", str(AGENCY)).returncode == 0
    audited = handoff(database_url, "audit", "--status", "delivered", "--json", "-c", str(AGENCY))
    first = min(e["id"] for e in json.loads(audited.stdout))  # a live phase's write
    shown = handoff(database_url, "event", str(first), "--json", "-c", str(AGENCY))
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["event"]["status"] == "delivered"
    (attempt,) = detail["attempts"]
    assert attempt["outcome"] == "delivered"
    assert attempt["exchange_ids"]  # the lines of the HTTP log this attempt made

    assert "no event 999" in one_clean_line(handoff(database_url, "event", "999"))
