"""The Xero sandbox as the demo uses it: the hand-typed contacts of the classic mess."""

from __future__ import annotations

from connectors.clock import Clock
from connectors.sandboxes import DemoSandbox

from .sandbox import XeroSandbox

HAND_TYPED = [
    ("Acme Limited", "accounts@acme.example"),
    ("Globex Corp.", "ap@globex.example"),
    ("Stark Industries Inc", ""),
]


def demo_sandbox(clock: Clock, seed: str) -> DemoSandbox:
    sandbox = XeroSandbox(clock)
    if seed == "agency":
        # Typed in by hand before Handoff existed: no ContactNumber, slightly different names.
        for name, email in HAND_TYPED:
            fields = {"Name": name, "EmailAddress": email} if email else {"Name": name}
            sandbox.add_contact(**fields)
    return DemoSandbox(
        sandbox=sandbox,
        wsgi_app=sandbox.wsgi_app,
        credentials={
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "refresh_token": sandbox.refresh_token,
            "tenant_id": sandbox.tenant_id,
        },
        options={},
    )
