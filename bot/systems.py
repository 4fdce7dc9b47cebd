"""Opening a map's systems for reading only (``discover``, ``fields``, ``init``, ``doctor``).

Unlike :func:`bot.bootstrap.build_runtime` this needs no engine and no migrated store: the
connectors are built from the map's systems alone. When the store is there, its token stores
are used, so a rotating OAuth refresh token spent here is kept where ``handoff run`` finds it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot.bootstrap import build_connectors, open_database
from bot.settings import Settings
from connectors.base import Connector
from connectors.clock import SystemClock
from connectors.http import ExchangeLog
from connectors.record_types import RecordType
from connectors.registry import ConnectorContext, catalog_for
from connectors.sandboxes import RunningSandbox
from sync_core.map.model import IntegrationMap
from sync_core.store.credentials import SqlTokenStores, cipher_for


@dataclass
class OpenSystems:
    map: IntegrationMap
    connectors: dict[str, Connector]
    sandboxes: dict[str, RunningSandbox] = field(default_factory=dict)


def catalogs_of(integration_map: IntegrationMap) -> dict[str, Mapping[str, RecordType]]:
    return {
        name: catalog_for(system.connector, system.options)
        for name, system in integration_map.systems.items()
    }


def _store_exists(settings: Settings) -> bool:
    """A SQLite store that is not there yet stays so: a read-only command makes no file."""
    from sqlalchemy.engine import make_url

    from sync_core.store.db import database_url

    url = make_url(database_url(settings.database_url))
    if url.get_backend_name() != "sqlite":
        return True
    name = url.database
    return bool(name) and name != ":memory:" and Path(str(name)).exists()


@contextmanager
def connector_context(
    settings: Settings, exchange_log: ExchangeLog | None = None
) -> Iterator[ConnectorContext]:
    """What connectors share here: the store's token stores when there is a store (a rotating
    refresh token spent by this command is then kept where ``handoff run`` finds it)."""
    clock = SystemClock()
    db = None
    if _store_exists(settings):
        try:
            db = open_database(settings)
        except Exception:
            db = None  # no usable store: tokens are kept in memory for this command only
    if db is None:
        yield ConnectorContext(clock=clock, exchange_log=exchange_log)
        return
    engine = db
    try:
        yield ConnectorContext(
            clock=clock,
            exchange_log=exchange_log,
            token_stores=SqlTokenStores(
                engine, lambda: cipher_for(settings.secret_key, engine.url), now=clock.now
            ),
        )
    finally:
        engine.dispose()


@contextmanager
def open_systems(
    integration_map: IntegrationMap,
    settings: Settings | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[OpenSystems]:
    """The map's connectors (starting the sandboxes it asks for), closed on leaving."""
    settings = settings or Settings.from_env(env)
    sandboxes: dict[str, RunningSandbox] = {}
    with connector_context(settings) as context:
        try:
            connectors = build_connectors(
                integration_map, context, os.environ if env is None else env, sandboxes
            )
        except BaseException:
            for served in sandboxes.values():
                served.shutdown()
            raise
        try:
            yield OpenSystems(integration_map, connectors, sandboxes)
        finally:
            for connector in connectors.values():
                connector.close()
            for served in sandboxes.values():
                served.shutdown()
