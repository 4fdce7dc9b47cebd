"""The Pipedrive sandbox as the demo uses it: the agency's deals, organisations and people."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connectors.clock import Clock
from connectors.sandbox.seed import COMPANIES, demo_start
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
    elif seed == "agency":
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
    return DemoSandbox(
        sandbox=sandbox,
        wsgi_app=sandbox.wsgi_app,
        credentials={"api_token": DEMO_TOKEN},
        options=dict(DEMO_OPTIONS),
    )


def seed_in_process(store: SandboxStore, now: datetime) -> None:
    """The agency's deals, flattened as the connector reads them, for the in-process sandbox."""
    start = demo_start(now)
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
