"""A small world for engine unit tests: the demo map, three in-process sandboxes, a fake
store, a frozen clock and a collecting alert sink."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from connectors.base import Connector, Record, UpsertItem, UpsertResult
from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine
from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.store.models import EventRow
from tests.fakes import FakeUnitOfWorkFactory

AGENCY = Path(__file__).resolve().parents[3] / "examples" / "agency.yaml"
DEAL = RecordRef(system="pipedrive", record_type="deal")
INVOICE = RecordRef(system="xero", record_type="invoice")
TO_XERO = "won-deal-to-xero-contact"
TO_ASANA = "won-deal-to-asana-project"
TO_DEAL = "invoice-status-to-deal"
TO_DRAFT_INVOICE = "won-deal-to-draft-invoice"


@cache
def _agency_dict() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(AGENCY.read_text())
    return _three_systems(loaded)


def _three_systems(data: dict[str, Any]) -> dict[str, Any]:
    """The demo map without its Mailchimp system and its draft invoice: these tests drive the
    engine through the in-process sandboxes of the CRM, accounting and project tool, one
    record per flow (the Mailchimp leg has its own integration tests, the draft invoice
    ``test_draft_invoice.py``; :func:`with_draft_invoice` puts it back)."""
    data["systems"].pop("mailchimp", None)
    data["flows"] = [
        f
        for f in data["flows"]
        if not f["to"].startswith("mailchimp.") and f["name"] != TO_DRAFT_INVOICE
    ]
    used = {f["phase"] for f in data["flows"]}
    data["phases"] = [p for p in data["phases"] if p["id"] in used]
    for entity in data["entities"].values():
        entity.get("copies", {}).pop("mailchimp.member", None)
        for key in (entity.get("match") or {}).get("keys", {}).values():
            key.pop("mailchimp.member", None)
    return data


def with_draft_invoice(data: dict[str, Any]) -> None:
    """An ``edit`` for :func:`agency_map`: the demo's draft-invoice flow, as the demo has it."""
    loaded = yaml.safe_load(AGENCY.read_text())
    data["flows"].append(next(f for f in loaded["flows"] if f["name"] == TO_DRAFT_INVOICE))


def agency_map(
    *,
    phase_states: Mapping[int, str] | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> IntegrationMap:
    """The demo map, with phase states replaced and any other change ``edit`` makes."""
    data = copy.deepcopy(_agency_dict())
    for phase in data["phases"]:
        if phase_states and phase["id"] in phase_states:
            phase["state"] = phase_states[phase["id"]]
    if edit is not None:
        edit(data)
    return IntegrationMap.model_validate(data)


@dataclass
class World:
    map: IntegrationMap
    clock: FrozenClock = field(default_factory=FrozenClock)
    uow_factory: FakeUnitOfWorkFactory = field(default_factory=FakeUnitOfWorkFactory)
    sink: CollectingSink = field(default_factory=CollectingSink)
    sandboxes: dict[str, SandboxConnector] = field(default_factory=dict)
    wrap: Mapping[str, Callable[[Connector], Connector]] = field(default_factory=dict)
    lease: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        for name in ("pipedrive", "xero", "asana"):
            self.sandboxes[name] = SandboxConnector(name, name, self.clock)
        connectors: dict[str, Connector] = {
            name: self.wrap.get(name, lambda c: c)(sandbox)
            for name, sandbox in self.sandboxes.items()
        }
        self.engine = Engine(
            self.map,
            self.uow_factory,
            connectors,
            self.clock,
            self.sink,
            worker_id="unit-worker",
            lease=self.lease,
        )
        self.engine.prepare()

    @property
    def crm(self) -> SandboxConnector:
        return self.sandboxes["pipedrive"]

    @property
    def xero(self) -> SandboxConnector:
        return self.sandboxes["xero"]

    @property
    def asana(self) -> SandboxConnector:
        return self.sandboxes["asana"]

    def add_deal(self, deal_id: int, org: str, status: str = "won", **more: Any) -> Record:
        fields = {
            "id": deal_id,
            "title": more.pop("title", "Website Redesign"),
            "value": more.pop("value", 18000),
            "currency": "GBP",
            "status": status,
            "org_name": org,
            "person_email": more.pop("person_email", f"hello-{deal_id}@example.com"),
            **more,
        }
        return self.crm.add("deal", fields, external_id=str(deal_id))

    def poll_deals(self) -> Any:
        return self.engine.poll(DEAL)

    def events(self, flow: str | None = None) -> list[EventRow]:
        rows: list[EventRow] = self.rows("events")
        return [r for r in rows if flow is None or r.flow == flow]

    def rows(self, table: str) -> list[Any]:
        return list(self.uow_factory.rows(table))


class LosesBookkeeping:
    """Wraps a connector: its writes succeed, then the call "crashes" before the engine can
    book them, the way a process dies between the vendor's answer and our commit."""

    def __init__(self, inner: Connector, times: int = 1) -> None:
        self.inner = inner
        self.system = inner.system
        self.times = times

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upsert_many(self, items: Sequence[UpsertItem]) -> list[UpsertResult]:
        results = self.inner.upsert_many(items)
        if self.times > 0:
            self.times -= 1
            raise RuntimeError("worker died after the vendor wrote")
        return results
