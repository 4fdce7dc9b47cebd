"""The Pipedrive sandbox as the demo uses it: the agency's deals, organisations and people
(``agency``), or the few organizations an accounting-first business typed in (``accounting``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connectors.clock import Clock
from connectors.sandbox.seed import AGENCY_SEEDS, COMPANIES, CRM_TYPED, demo_start
from connectors.sandbox.store import SandboxStore
from connectors.sandboxes import DemoSandbox

from .sandbox import PipedriveSandbox

DEMO_TOKEN = "sandbox-pipedrive-token"
DEMO_OPTIONS = {"company_domain": "agency"}


def demo_sandbox(clock: Clock, seed: str, state: dict[str, Any] | None = None) -> DemoSandbox:
    """The demo sandbox: seeded when new, or as ``state`` left it."""
    sandbox = PipedriveSandbox(clock=clock, api_token=DEMO_TOKEN)
    if state is not None:
        sandbox.from_state(state)
    elif seed in AGENCY_SEEDS:
        for org_name, title, status, value, email in COMPANIES:
            org = sandbox.add_organization(org_name)
            person = sandbox.add_person(email.split("@")[0].title(), email=email, org_id=org["id"])
            sandbox.add_deal(
                title,
                value=value,
                currency="GBP",
                status=status,
                org_id=org["id"],
                person_id=person["id"],
            )
    elif seed == "accounting":
        for org_name, address in CRM_TYPED:
            sandbox.add_organization(org_name, address=address or None)
    return DemoSandbox(
        sandbox=sandbox,
        wsgi_app=sandbox.wsgi_app,
        credentials={"api_token": DEMO_TOKEN},
        defaults=dict(DEMO_OPTIONS),
    )


def seed_in_process(seed: str, store: SandboxStore, now: datetime) -> None:
    """The in-process sandbox's records for ``seed``: the agency's deals, flattened as the
    connector reads them, or the organizations the accounting-first business typed by hand."""
    start = demo_start(now)
    if seed == "accounting":
        for index, (name, address) in enumerate(CRM_TYPED):
            org_id = str(500 + index)
            typed: dict[str, Any] = {"id": int(org_id), "name": name}
            if address:
                typed["address"] = address
            store.put("organization", org_id, typed, start + timedelta(hours=index))
        return
    if seed not in AGENCY_SEEDS:
        return
    for index, (org, title, status, value, email) in enumerate(COMPANIES):
        deal_id = str(100 + index)
        fields: dict[str, Any] = {
            "id": int(deal_id),
            "title": title,
            "value": value,
            "currency": "GBP",
            "status": status,
            "org_id": 500 + index,
            "org_name": org,
            "person_id": 900 + index,
            "person_name": email.split("@")[0].title(),
            "person_email": email,
            "owner_id": 1,
            "stage_id": 1,
            "pipeline_id": 1,
            "add_time": (start + timedelta(hours=index)).isoformat(),
        }
        if status == "won":
            fields["won_time"] = (start + timedelta(days=1, hours=index)).isoformat()
        store.put("deal", deal_id, fields, start + timedelta(hours=index))
