"""A first start on a real store: the demo map's CRM, accounting and project tool as
in-process sandboxes, phase 1 declared live, and a customer typed by hand into accounting
whose name alone matches a won deal (a probable match a person reviews)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from connectors.base import Connector
from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine
from sync_core.map.model import IntegrationMap
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.unit.engine.support import agency_map

PHASE = 1
KEY = f"golive:phase:{PHASE}"


@dataclass
class Vendors:
    map: IntegrationMap
    clock: FrozenClock
    sandboxes: dict[str, SandboxConnector]
    connectors: dict[str, Any]

    def engine(self, uow_factory: SqlUnitOfWorkFactory, sink: CollectingSink, name: str) -> Engine:
        return Engine(self.map, uow_factory, self.connectors, self.clock, sink, worker_id=name)


def held_for_review(wrap_xero: Callable[[Connector], Any] | None = None) -> Vendors:
    """Phase 1 declared live (the others planned); "Stark Industries Inc" typed by hand into
    accounting with no email to back its name: the first start holds phase 1 for review."""
    integration_map = agency_map(phase_states={2: "planned", 3: "planned"})
    clock = FrozenClock()
    sandboxes = {
        name: SandboxConnector(name, name, clock) for name in ("pipedrive", "xero", "asana")
    }
    sandboxes["pipedrive"].add(
        "deal",
        {"id": 100, "title": "Website", "status": "won", "org_name": "Stark Industries"},
        external_id="100",
    )
    sandboxes["xero"].add("contact", {"Name": "Stark Industries Inc"}, external_id="hand-s")
    connectors: dict[str, Any] = dict(sandboxes)
    if wrap_xero is not None:
        connectors["xero"] = wrap_xero(sandboxes["xero"])
    return Vendors(integration_map, clock, sandboxes, connectors)


def rows(uow_factory: SqlUnitOfWorkFactory, model: type[Any]) -> list[Any]:
    """Every row of ``model``, readable after the unit of work ends."""
    with uow_factory() as uow:
        assert uow.session is not None
        found = list(uow.session.scalars(select(model)).all())
        uow.session.expunge_all()
        return found
