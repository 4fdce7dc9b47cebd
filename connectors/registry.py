"""Finds the vendor packages and builds connectors by name from the map's system blocks.

A vendor package is a subpackage of ``connectors`` (or of a package named in
``HANDOFF_VENDOR_PACKAGES``, comma-separated) whose ``__init__`` defines ``VENDOR``, a
:class:`~connectors.vendor.Vendor`. Packages are scanned the first time a vendor is asked for,
so nothing is imported or built when this module is.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from connectors.base import ConfigError, Connector, ConnectorSettings
from connectors.capabilities import check
from connectors.clock import Clock
from connectors.http import ExchangeLog
from connectors.tokens import TokenStores

if TYPE_CHECKING:
    from connectors.record_types import RecordType
    from connectors.vendor import Vendor

PACKAGES_ENV = "HANDOFF_VENDOR_PACKAGES"
BUILT_IN = "connectors"


@dataclass
class ConnectorContext:
    """What every connector shares: the clock, the HTTP exchange log, and where rotating
    OAuth tokens are kept across processes (in memory per connector when ``None``)."""

    clock: Clock
    exchange_log: ExchangeLog | None = None
    token_stores: TokenStores | None = None


Factory = Callable[[ConnectorSettings, ConnectorContext], Connector]


def discover(packages: Iterable[str]) -> dict[str, Vendor]:
    """The vendors defined by the subpackages of ``packages``, by name."""
    from connectors.vendor import Vendor

    found: dict[str, Vendor] = {}
    for package_name in packages:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
            if not info.ispkg:
                continue
            module = importlib.import_module(f"{package_name}.{info.name}")
            vendor = getattr(module, "VENDOR", None)
            if vendor is None:
                continue
            if not isinstance(vendor, Vendor):
                raise ConfigError(f"{module.__name__}.VENDOR is not a Vendor")
            if vendor.name in found:
                raise ConfigError(f"two vendor packages are named {vendor.name!r}")
            found[vendor.name] = vendor
    return found


def search_packages() -> tuple[str, ...]:
    extra = [p.strip() for p in os.environ.get(PACKAGES_ENV, "").split(",") if p.strip()]
    return (BUILT_IN, *extra)


def vendors() -> dict[str, Vendor]:
    """Every vendor package found, by the name a map's ``connector:`` uses."""
    return _vendors(search_packages())


@cache
def _vendors(packages: tuple[str, ...]) -> dict[str, Vendor]:
    return discover(packages)


def vendor(name: str) -> Vendor:
    found = vendors().get(name)
    if found is None:
        raise ConfigError(
            f"unknown connector {name!r}; known connectors: {', '.join(known_connectors())}"
        )
    return found


def known_connectors() -> list[str]:
    return sorted(vendors())


def factory_for(name: str) -> Factory:
    return vendor(name).build


def build_connector(settings: ConnectorSettings, context: ConnectorContext) -> Connector:
    """Build the connector a system block names, checked against the contract and the
    capability protocols it claims."""
    return check(factory_for(settings.connector)(settings, context), settings.connector)


def catalogs() -> dict[str, Mapping[str, RecordType]]:
    """The record types of every vendor that declares some, by vendor name."""
    return {name: v.record_types for name, v in vendors().items() if v.record_types}


def catalog_for(
    connector: str, options: Mapping[str, Any] | None = None
) -> Mapping[str, RecordType]:
    """The record types of ``connector`` (of the vendor it emulates, for the in-process
    sandbox: ``options: {emulates: xero}``); empty for an unknown one."""
    return Catalogs().catalog_for(connector, options or {})


class Catalogs:
    """The record types of every vendor, as the map validator asks for them."""

    def catalog_for(self, connector: str, options: Mapping[str, Any]) -> Mapping[str, RecordType]:
        """The record types of ``connector``; the in-process sandbox takes the catalog of the
        vendor it emulates (``options: {emulates: xero}``)."""
        found = vendors()
        if connector == "sandbox":
            connector = str(options.get("emulates", ""))
        chosen = found.get(connector)
        return chosen.record_types if chosen is not None else {}

    def names(self) -> list[str]:
        """The connectors a map may name."""
        return known_connectors()
