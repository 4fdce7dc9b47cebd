"""The in-process sandbox connector (``connector: sandbox``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.base import ConnectorSettings
from connectors.sandbox.connector import (
    MergingSandboxConnector,
    SandboxConnector,
    sandbox_connector,
)
from connectors.sandbox.seed import seed_data

if TYPE_CHECKING:
    from connectors.registry import ConnectorContext

__all__ = ["MergingSandboxConnector", "SandboxConnector", "build", "sandbox_connector"]


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
