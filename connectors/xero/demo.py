"""The Xero sandbox as the demo uses it: the hand-typed contacts of the classic mess
(``agency``), or an accounting-first business's customers (``accounting``)."""

from __future__ import annotations

from typing import Any

from connectors.clock import Clock
from connectors.sandbox.seed import CUSTOMERS
from connectors.sandboxes import DemoSandbox

from .sandbox import XeroSandbox

HAND_TYPED = [
    ("Acme Limited", "accounts@acme.example"),
    ("Globex Corp.", "ap@globex.example"),
    ("Stark Industries Inc", ""),
]


def demo_sandbox(clock: Clock, seed: str, state: dict[str, Any] | None = None) -> DemoSandbox:
    """The demo sandbox: seeded when new, or as ``state`` left it."""
    sandbox = XeroSandbox(clock)
    if state is not None:
        sandbox.from_state(state)
    elif seed == "agency":
        # Typed in by hand before Handoff existed: no ContactNumber, slightly different names.
        for name, email in HAND_TYPED:
            fields = {"Name": name, "EmailAddress": email} if email else {"Name": name}
            sandbox.add_contact(**fields)
    elif seed == "accounting":
        # Customers are created in accounts first: each is a contact before it is anything else.
        for name, email, tax in CUSTOMERS:
            extra = {"TaxNumber": tax} if tax else {}
            sandbox.add_contact(Name=name, EmailAddress=email, IsCustomer=True, **extra)
    return DemoSandbox(
        sandbox=sandbox,
        wsgi_app=sandbox.wsgi_app,
        credentials=_credentials(sandbox),
        options={},
        current_credentials=lambda: _credentials(sandbox),
    )


def _credentials(sandbox: XeroSandbox) -> dict[str, str]:
    # The refresh token rotates with every use: the current one is the one that works.
    return {
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "refresh_token": sandbox.refresh_token,
        "tenant_id": sandbox.tenant_id,
    }
