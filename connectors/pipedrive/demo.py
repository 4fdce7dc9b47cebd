"""The Pipedrive sandbox as the demo uses it: the agency's deals, organisations and people
(``agency``), or the few organizations an accounting-first business typed in (``accounting``)."""

from __future__ import annotations

from typing import Any

from connectors.clock import Clock
from connectors.sandbox.seed import COMPANIES, CRM_TYPED
from connectors.sandboxes import DemoSandbox

from .sandbox import PipedriveSandbox

DEMO_TOKEN = "sandbox-pipedrive-token"


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
    elif seed == "accounting":
        for org_name, address in CRM_TYPED:
            sandbox.add_organization(org_name, address=address or None)
    return DemoSandbox(
        sandbox=sandbox,
        wsgi_app=sandbox.wsgi_app,
        credentials={"api_token": DEMO_TOKEN},
        defaults={"company_domain": "agency"},
    )
