"""The in-process sandbox connector (``connector: sandbox``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.base import ConnectorSettings
from connectors.sandbox.connector import SandboxConnector
from connectors.sandbox.seed import seed_agency

if TYPE_CHECKING:
    from connectors.registry import ConnectorContext

__all__ = ["SandboxConnector", "build"]


def build(settings: ConnectorSettings, context: ConnectorContext) -> SandboxConnector:
    emulates = str(settings.options.get("emulates") or settings.system)
    connector = SandboxConnector(settings.system, emulates, context.clock)
    if settings.options.get("seed") == "agency":
        seed_agency(emulates, connector.store, context.clock.now())
    return connector
