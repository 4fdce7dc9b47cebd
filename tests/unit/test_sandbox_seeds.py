"""The in-process sandbox knows every seed the HTTP sandboxes know, with the same data."""

from __future__ import annotations

from connectors.base import ConnectorSettings
from connectors.clock import FrozenClock
from connectors.registry import ConnectorContext
from connectors.sandbox import SandboxConnector, build
from connectors.sandbox.seed import CRM_TYPED, CUSTOMERS


def _built(emulates: str, seed: str) -> SandboxConnector:
    settings = ConnectorSettings(
        system=emulates, connector="sandbox", options={"emulates": emulates, "seed": seed}
    )
    return build(settings, ConnectorContext(clock=FrozenClock()))


def test_the_accounting_seed_puts_customers_in_accounts_and_few_in_the_crm() -> None:
    contacts = _built("xero", "accounting").records("contact")
    assert sorted(c.display_name or "" for c in contacts) == sorted(n for n, _, _ in CUSTOMERS)
    assert all(not c.fields.get("ContactNumber") for c in contacts)
    crm = _built("pipedrive", "accounting")
    assert sorted(o.display_name or "" for o in crm.records("organization")) == sorted(
        n for n, _ in CRM_TYPED
    )
    assert crm.records("deal") == []
    assert _built("asana", "accounting").records("project") == []


def test_without_a_known_seed_a_sandbox_starts_empty() -> None:
    assert _built("xero", "").records("contact") == []
    assert _built("xero", "no-such-seed").records("contact") == []
    assert len(_built("xero", "agency").records("contact")) == 3
