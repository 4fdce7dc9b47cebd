"""The demo starts cleanly on a new store: its phases declared live reconcile their targets
before the first sync, so the customers typed by hand into the sandboxes are linked, never
created a second time, and `handoff where acme` finds one customer in every system."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable

from bot.bootstrap import build_runtime
from bot.settings import Settings
from connectors.clock import FrozenClock
from sync_core.alerts import CollectingSink
from sync_core.matching.normalise import business_name
from tests.conftest import REPO_ROOT
from tests.support.served import handoff_env

DEMO = REPO_ROOT / "examples" / "agency.yaml"


def _twins(names: Iterable[str | None]) -> dict[str, int]:
    """Normalised customer names held by more than one record."""
    keys = Counter(n.key for n in map(business_name, names) if n is not None)
    return {key: count for key, count in keys.items() if count > 1}


def test_a_new_store_links_the_demo_twins_and_creates_no_second_customer(
    database_url: str,
) -> None:
    settings = Settings.from_env({}, map_path=DEMO, database_url=database_url)
    sink = CollectingSink()
    rt = build_runtime(settings, alert_sink=sink, clock=FrozenClock(), env={})
    try:
        rt.engine.sync_once()
        xero = rt.sandboxes["xero"].demo.sandbox
        contacts = xero.contacts()
        mailchimp = rt.sandboxes["mailchimp"].demo.sandbox
        list_id = next(iter(mailchimp.state.lists))
        members = mailchimp.members(list_id)
        asana = rt.sandboxes["asana"].demo.sandbox
        projects = list(asana.state.projects.values())
        with rt.uow_factory() as uow:
            phases = {row.id: row.state for row in uow.phases.all()}
    finally:
        rt.close()

    # every target holds each customer once
    assert _twins(c["Name"] for c in contacts) == {}
    assert _twins((m.get("merge_fields") or {}).get("COMPANY") for m in members) == {}
    assert _twins(p["name"] for p in projects) == {}
    by_name = {c["Name"]: c.get("ContactNumber") for c in contacts}
    # the twins typed in by hand carry the deal's canonical ID now
    assert by_name["Acme Limited"] and by_name["Globex Corp."]
    assert "Acme Ltd" not in by_name and "Globex Corporation" not in by_name
    # "Stark Industries Inc" has no email to back its name: a person decides, so phase 1
    # waits in its parallel period and says so; the phases whose targets are clean are live
    assert by_name["Stark Industries Inc"] is None and "Stark Industries" not in by_name
    assert phases == {1: "parallel", 2: "live", 3: "parallel", 4: "live"}
    (held,) = [n for n in sink.notices if n.group_key == "golive:phase:1"]
    assert "1 probable match(es)" in held.summary and "xero.contact" in held.summary
    assert "handoff match review" in held.summary

    where = subprocess.run(
        [sys.executable, "-m", "bot.cli", "where", "acme", "--json", "-c", str(DEMO)],
        cwd=REPO_ROOT,
        env=handoff_env(HANDOFF_DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.returncode == 0, where.stdout + where.stderr
    (acme,) = json.loads(where.stdout)
    assert {r["system"] for r in acme["records"]} == {"pipedrive", "xero", "asana", "mailchimp"}
    assert len(acme["records"]) == 4
