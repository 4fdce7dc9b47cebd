"""The in-process sandbox connector (``connector: sandbox``): it emulates a vendor from that
vendor's own declarations (record types, deep links, ids, demo seed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.base import ConnectorSettings
from connectors.sandbox.connector import SandboxConnector
from connectors.sandbox.seed import seed_agency
from connectors.vendor import Vendor

if TYPE_CHECKING:
    from connectors.registry import ConnectorContext

__all__ = ["VENDOR", "SandboxConnector", "build"]


def build(settings: ConnectorSettings, context: ConnectorContext) -> SandboxConnector:
    emulates = str(settings.options.get("emulates") or settings.system)
    connector = SandboxConnector(settings.system, emulates, context.clock)
    if settings.options.get("seed") == "agency":
        seed_agency(emulates, connector.store, context.clock.now())
    return connector


# Its record types are those of the vendor it emulates (the registry's catalogs look them up).
VENDOR = Vendor(name="sandbox", record_types={}, build=build)
