"""Builds connectors by name from the map's system blocks. Vendor packages are imported only
when a map names them, so nothing is built at import time."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from connectors.base import ConfigError, Connector, ConnectorSettings
from connectors.capabilities import check
from connectors.clock import Clock
from connectors.http import ExchangeLog
from connectors.tokens import TokenStores

# connector name -> "module:function" building it from (settings, context)
CONNECTORS: dict[str, str] = {
    "sandbox": "connectors.sandbox:build",
    "pipedrive": "connectors.pipedrive:build",
    "xero": "connectors.xero:build",
    "asana": "connectors.asana:build",
}


@dataclass
class ConnectorContext:
    """What every connector shares: the clock, the HTTP exchange log, and where rotating
    OAuth tokens are kept across processes (in memory per connector when ``None``)."""

    clock: Clock
    exchange_log: ExchangeLog | None = None
    token_stores: TokenStores | None = None


Factory = Callable[[ConnectorSettings, ConnectorContext], Connector]


def known_connectors() -> list[str]:
    return sorted(CONNECTORS)


def factory_for(name: str) -> Factory:
    target = CONNECTORS.get(name)
    if target is None:
        raise ConfigError(
            f"unknown connector {name!r}; known connectors: {', '.join(known_connectors())}"
        )
    module_name, _, func = target.partition(":")
    module = importlib.import_module(module_name)
    factory: Factory = getattr(module, func)
    return factory


def build_connector(settings: ConnectorSettings, context: ConnectorContext) -> Connector:
    """Build the connector a system block names, checked against the contract and the
    capability protocols it claims."""
    return check(factory_for(settings.connector)(settings, context), settings.connector)
