"""The Mailchimp sandbox as the demo uses it: the agency's newsletter audience, holding a
spreadsheet import made before Handoff existed (one more spelling of Acme, no canonical ID)."""

from __future__ import annotations

from typing import Any

from connectors.clock import Clock
from connectors.sandbox.seed import AGENCY_SEEDS
from connectors.sandboxes import DemoSandbox

from .sandbox import MailchimpSandbox

DEMO_KEY = "sandbox0mailchimp-us6"
AUDIENCE = "Agency newsletter"
# Imported from a spreadsheet: the fourth way of writing Acme.
SPREADSHEET_IMPORT = [
    ("jane@acme.example", "Jane", "Doe", "ACME Ltd."),
    ("hank@globex.example", "Hank", "Scorpio", "Globex"),
    ("newsletter-fan@example.org", "Sam", "Reader", ""),
]


def demo_sandbox(clock: Clock, seed: str, state: dict[str, Any] | None = None) -> DemoSandbox:
    """The demo sandbox: seeded when new, or as ``state`` left it."""
    sandbox = MailchimpSandbox(clock=clock, api_key=DEMO_KEY)
    if state is not None:
        sandbox.from_state(state)
        list_id = next(iter(sandbox.state.lists))
    else:
        list_id = sandbox.add_list(AUDIENCE)["id"]
        sandbox.add_merge_field(list_id, "COMPANY", "Company")
        if seed in AGENCY_SEEDS:
            for email, first, last, company in SPREADSHEET_IMPORT:
                merge = {"FNAME": first, "LNAME": last, "COMPANY": company}
                sandbox.add_member(list_id, email, merge, tags=["spreadsheet import"])
    return DemoSandbox(
        sandbox=sandbox,
        wsgi_app=sandbox.wsgi_app,
        credentials={"api_key": DEMO_KEY},
        options={"list_id": list_id},
    )
