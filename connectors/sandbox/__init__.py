"""The in-process sandbox connector (``connector: sandbox``): it emulates a vendor from that
vendor's own declarations (record types, deep links, ids, demo seed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.base import ConnectorSettings
from connectors.sandbox.connector import (
    MergingSandboxConnector,
    SandboxConnector,
    sandbox_connector,
)
from connectors.sandbox.seed import seed_data
from connectors.vendor import Vendor

if TYPE_CHECKING:
    from connectors.registry import ConnectorContext

__all__ = ["VENDOR", "MergingSandboxConnector", "SandboxConnector", "build", "sandbox_connector"]


def build(settings: ConnectorSettings, context: ConnectorContext) -> SandboxConnector:
    emulates = str(settings.options.get("emulates") or settings.system)
    domain = settings.options.get("company_domain")
    connector = sandbox_connector(
        settings.system, emulates, context.clock, company_domain=str(domain) if domain else None
    )
    seed_data(
        str(settings.options.get("seed") or ""), emulates, connector.store, context.clock.now()
    )
    return connector


# Its record types are those of the vendor it emulates (the registry's catalogs look them up).
VENDOR = Vendor(name="sandbox", record_types={}, build=build)
