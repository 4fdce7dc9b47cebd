"""The demo's agency map on in-process sandboxes, for integration tests of the service on a
real store without HTTP."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import Engine as DbEngine

from connectors.clock import Clock
from connectors.sandbox import SandboxConnector
from connectors.sandbox.seed import seed_agency
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine
from sync_core.map.model import IntegrationMap
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.conftest import REPO_ROOT


def in_process_map(retention: Any = None) -> IntegrationMap:
    """examples/agency.yaml with every system an in-process sandbox emulating its vendor, and
    ``retention`` as the map's retention section when given."""
    data = yaml.safe_load((REPO_ROOT / "examples/agency.yaml").read_text())
    for name, system in data["systems"].items():
        system["connector"] = "sandbox"
        system.pop("base_url", None)
        system["options"]["emulates"] = name
    if retention is not None:
        data["retention"] = retention
    return IntegrationMap.model_validate(data)


def agency_engine(
    db: DbEngine, clock: Clock, integration_map: IntegrationMap
) -> tuple[Engine, dict[str, SandboxConnector]]:
    """The engine over ``db`` and the map's sandboxes, seeded with the agency's records and
    prepared; nothing is typed into accounting by hand, so phase 1 starts live."""
    connectors = {}
    for name in integration_map.systems:
        connector = SandboxConnector(name, name, clock)
        if name != "xero":
            seed_agency(name, connector.store, clock.now())
        connectors[name] = connector
    engine = Engine(integration_map, SqlUnitOfWorkFactory(db), connectors, clock, CollectingSink())
    engine.prepare()
    return engine, connectors
