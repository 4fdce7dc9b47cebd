"""The demo starts cleanly on a new store: its phases declared live reconcile their targets
before the first sync, so the customers typed by hand into the sandboxes (Xero's contacts,
Asana's old board, Mailchimp's spreadsheet import) are linked automatically, never created a
second time, and `handoff where acme` finds one customer with its record in every system."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

from bot.bootstrap import build_runtime
from bot.settings import Settings
from connectors.clock import FrozenClock
from sync_core.alerts import CollectingSink
from sync_core.matching.normalise import business_name
from tests.conftest import REPO_ROOT
from tests.support.served import handoff_env

DEMO = REPO_ROOT / "examples" / "agency.yaml"
# the customers the seed typed by hand somewhere, and the first word of their names
TWINNED = ("acme", "globex", "stark")


def _named(customer: str, names: Iterable[str | None]) -> list[str]:
    """The names (of records of one kind) that are this customer's: its first word, whatever
    the legal suffix, the case or the project title after it."""
    found = []
    for name in names:
        normalised = business_name((name or "").split(" – ")[0])
        if normalised is not None and customer in normalised.tokens:
            found.append(str(name))
    return found


def _where(customer: str, database_url: str) -> list[dict[str, Any]]:
    where = subprocess.run(
        [sys.executable, "-m", "bot.cli", "where", customer, "--json", "-c", str(DEMO)],
        cwd=REPO_ROOT,
        env=handoff_env(HANDOFF_DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.returncode == 0, where.stdout + where.stderr
    found: list[dict[str, Any]] = json.loads(where.stdout)
    return found


def test_a_new_store_links_the_demo_twins_goes_live_and_creates_no_second_customer(
    database_url: str,
) -> None:
    settings = Settings.from_env({}, map_path=DEMO, database_url=database_url)
    sink = CollectingSink()
    rt = build_runtime(settings, alert_sink=sink, clock=FrozenClock(), env={})
    try:
        asana = rt.sandboxes["asana"].demo.sandbox
        (old_board,) = [
            gid for gid, p in asana.state.projects.items() if "(old board)" in p["name"]
        ]
        rt.engine.sync_once()
        xero = rt.sandboxes["xero"].demo.sandbox
        contacts = xero.contacts()
        invoices = xero.invoices()
        mailchimp = rt.sandboxes["mailchimp"].demo.sandbox
        members = mailchimp.members(next(iter(mailchimp.state.lists)))
        projects = dict(asana.state.projects)
        organizations = rt.sandboxes["pipedrive"].demo.sandbox.records("organization")
        with rt.uow_factory() as uow:
            phases = {row.id: row.state for row in uow.phases.all()}
            phase_1 = [f.name for f in rt.map.flows if f.phase == 1]
            shadow = uow.shadow_writes.for_flows(phase_1)
    finally:
        rt.close()

    # every phase declared live is live at first start: nothing held for review
    assert phases == {1: "live", 2: "live", 3: "parallel", 4: "live"}
    assert [n for n in sink.notices if n.group_key.startswith("golive:")] == []
    assert list(shadow) == []
    contact_ids = {c["ContactID"]: c["Name"] for c in contacts}
    for customer in TWINNED:
        # one record of the customer in each system, however its name was typed there
        assert len(_named(customer, (o["name"] for o in organizations))) == 1, customer
        assert len(_named(customer, contact_ids.values())) == 1, customer
        billed = [i for i in invoices if customer in contact_ids[i["Contact"]["ContactID"]].lower()]
        assert len(billed) == 1 and billed[0]["Status"] == "DRAFT", (customer, billed)
        company = ((m.get("merge_fields") or {}).get("COMPANY") for m in members)
        assert len(_named(customer, company)) == 1, customer
        assert len(_named(customer, (p["name"] for p in projects.values()))) == 1, customer
        (customer_where,) = _where(customer, database_url)
        records = {(r["system"], r["record_type"]) for r in customer_where["records"]}
        assert records == {
            ("pipedrive", "deal"),
            ("xero", "contact"),
            ("xero", "invoice"),
            ("asana", "project"),
            ("mailchimp", "member"),
        }, customer
        assert len(customer_where["records"]) == 5, customer
    # the hand-made old board is the Acme project now, not a second one beside it
    assert _named("acme", (p["name"] for p in projects.values())) == [projects[old_board]["name"]]
    (acme,) = _where("acme", database_url)
    assert old_board in {r["external_id"] for r in acme["records"]}
    # the twins typed by hand kept their ids: linked and stamped, not replaced
    stamped = {c["Name"]: c.get("ContactNumber") for c in contacts}
    assert all(stamped[name] for name in stamped if _named("acme", [name]) or "Globex" in name)
