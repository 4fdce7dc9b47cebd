"""The Xero sandbox as the demo uses it: the hand-typed contacts of the classic mess
(``agency``), or an accounting-first business's customers (``accounting``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connectors.clock import Clock
from connectors.sandbox.seed import AGENCY_REVIEW, AGENCY_SEEDS, CUSTOMERS, demo_start
from connectors.sandbox.store import SandboxStore
from connectors.sandboxes import DemoSandbox

from .sandbox import XeroSandbox

# Typed in by hand before Handoff existed: no ContactNumber, other names, and the accounts
# address each customer gave for its invoices (at its own domain, which backs the name).
HAND_TYPED = [
    ("Acme Limited", "accounts@acme.example"),
    ("Globex Corp.", "ap@globex.example"),
    ("Stark Industries Inc", "accounts@stark.example"),
]


def hand_typed(seed: str) -> list[tuple[str, str]]:
    """The contacts accounts typed for ``seed``: with ``agency-review`` Stark has no email, so
    its name alone backs its match and a person decides."""
    if seed == AGENCY_REVIEW:
        return [(name, "" if name.startswith("Stark") else email) for name, email in HAND_TYPED]
    return list(HAND_TYPED)


def demo_sandbox(clock: Clock, seed: str, state: dict[str, Any] | None = None) -> DemoSandbox:
    """The demo sandbox: seeded when new, or as ``state`` left it."""
    sandbox = XeroSandbox(clock)
    if state is not None:
        sandbox.from_state(state)
    elif seed in AGENCY_SEEDS:
        for name, email in hand_typed(seed):
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
        credentials=sandbox.credentials(),
        options={},
        current_credentials=lambda: sandbox.credentials(),
    )


def seed_in_process(seed: str, store: SandboxStore, now: datetime) -> None:
    """The in-process sandbox's records for ``seed``: the agency's hand-typed contacts (no
    ContactNumber), or the accounting-first business's customers."""
    start = demo_start(now)
    if seed == "accounting":
        for index, (name, email, tax) in enumerate(CUSTOMERS):
            customer_id = f"00000000-0000-4000-8000-{index + 1:012d}"
            customer: dict[str, Any] = {
                "ContactID": customer_id,
                "ContactNumber": None,
                "Name": name,
                "EmailAddress": email,
                "ContactStatus": "ACTIVE",
                "IsCustomer": True,
            }
            if tax:
                customer["TaxNumber"] = tax
            store.put("contact", customer_id, customer, start + timedelta(hours=index))
        return
    if seed not in AGENCY_SEEDS:
        return
    for index, (name, email) in enumerate(hand_typed(seed)):
        contact_id = f"hand-{index + 1:04d}"
        fields = {
            "ContactID": contact_id,
            "ContactNumber": None,
            "Name": name,
            "EmailAddress": email,
            "ContactStatus": "ACTIVE",
            "IsCustomer": True,
        }
        store.put("contact", contact_id, fields, start)


def sandbox_id(serial: str) -> str:
    """Xero's ids are UUIDs; the in-process sandbox's n-th record gets one of that shape."""
    return f"{serial}-0000-4000-8000-{int(serial):012d}"
