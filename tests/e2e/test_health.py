"""``GET /healthz`` reports the database: 200 while it answers, 503 with the reason when it
cannot be reached."""

from __future__ import annotations

import httpx

from bot.serve import build_server
from connectors.clock import FrozenClock
from sync_core.store.db import make_engine
from tests.conftest import REPO_ROOT
from tests.e2e.fake_slack import FakeSlack

AGENCY = REPO_ROOT / "examples" / "agency.yaml"


def test_healthz_reports_a_database_that_cannot_be_reached(
    slack: FakeSlack, database_url: str
) -> None:
    settings = slack.settings(AGENCY, database_url)
    server = build_server(settings, host="127.0.0.1", port=0, clock=FrozenClock())
    store = server.runtime.db
    try:
        server.start()
        healthy = httpx.get(server.url + "/healthz", timeout=10)
        assert healthy.status_code == 200
        assert healthy.json()["database"] == "ok"

        # The store goes away: the server it points at refuses connections.
        server.runtime.db = make_engine("postgresql+psycopg://nobody:pw@127.0.0.1:1/handoff")
        sick = httpx.get(server.url + "/healthz", timeout=30)
        assert sick.status_code == 503
        report = sick.json()
        assert report["ok"] is False
        assert report["database"].startswith("error: ")
        assert "Connection refused" in report["database"]
        assert "\n" not in report["database"] and "pw" not in report["database"]
        assert report["scheduler"]["running"] is True
    finally:
        server.stop()
        store.dispose()
