"""The one wiring function: settings in, a ready runtime out. Nothing is built at import."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine as DbEngine

from bot.settings import Settings, resolve_credentials
from connectors.base import ConfigError, Connector, ConnectorSettings
from connectors.clock import Clock, SystemClock
from connectors.http import ExchangeLog
from connectors.redaction import KNOWN_SECRETS
from connectors.registry import ConnectorContext, build_connector
from connectors.sandboxes import RunningSandbox, start_sandbox
from sync_core.alerts import AlertSink
from sync_core.engine import Engine
from sync_core.map.loader import load_map
from sync_core.map.model import IntegrationMap
from sync_core.store.db import current_revision, is_sqlite, make_engine
from sync_core.store.uow import SqlUnitOfWorkFactory

SANDBOX_BASE_URL = "sandbox"


class NotMigrated(RuntimeError):
    """The database has no schema yet (or an old one): run ``handoff db upgrade``."""


@dataclass
class Runtime:
    settings: Settings
    map: IntegrationMap
    db: DbEngine
    uow_factory: SqlUnitOfWorkFactory
    connectors: dict[str, Connector]
    engine: Engine
    clock: Clock
    sandboxes: dict[str, RunningSandbox] = field(default_factory=dict)
    # resolved secrets per system (webhook passwords...); never logged
    credentials: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    def close(self) -> None:
        for connector in self.connectors.values():
            connector.close()
        for served in self.sandboxes.values():
            served.shutdown()
        self.db.dispose()


def read_map(path: Path) -> IntegrationMap:
    """The map at ``path``, or :class:`sync_core.map.problems.MapError` naming every error."""
    return load_map(path).require_valid()


def open_database(settings: Settings, *, auto_upgrade: bool = False) -> DbEngine:
    from sync_core.store.db import database_url, upgrade

    url = database_url(settings.database_url)
    if auto_upgrade:
        upgrade(url)
    db = make_engine(url)
    if current_revision(db) is None:
        db.dispose()
        where = "the SQLite file" if is_sqlite(url) else "the database"
        raise NotMigrated(f"{where} has no Handoff schema yet: run `handoff db upgrade` first")
    return db


def build_connectors(
    integration_map: IntegrationMap,
    context: ConnectorContext,
    env: Mapping[str, str],
    sandboxes: dict[str, RunningSandbox],
    credentials: dict[str, dict[str, str]] | None = None,
) -> dict[str, Connector]:
    connectors: dict[str, Connector] = {}
    resolved: dict[str, dict[str, str]] = {}
    missing: list[str] = []
    for name, system in integration_map.systems.items():
        sandboxed = system.connector == "sandbox" or system.base_url == SANDBOX_BASE_URL
        try:
            resolved[name] = resolve_credentials(name, system, env, sandbox=sandboxed)
        except ConfigError as exc:
            missing.append(str(exc))
    if missing:
        # Every missing secret at once, so one fix-and-restart is enough.
        raise ConfigError("; ".join(missing))
    for name, system in integration_map.systems.items():
        system_credentials = resolved[name]
        KNOWN_SECRETS.add(*system_credentials.values())
        if credentials is not None:
            credentials[name] = system_credentials
        base_url = system.base_url
        options = dict(system.options)
        if system.base_url == SANDBOX_BASE_URL:
            running = start_sandbox(
                system.connector, context.clock, seed=str(options.get("seed") or "")
            )
            sandboxes[name] = running
            base_url = running.url
            # The sandbox made its own workspace ids and tokens: they win over the map's.
            system_credentials.update(running.demo.credentials)
            KNOWN_SECRETS.add(*running.demo.credentials.values())
            options = {**options, **running.demo.options}
        settings = ConnectorSettings(
            system=name,
            connector=system.connector,
            credentials=system_credentials,
            options=options,
            base_url=base_url,
        )
        try:
            connectors[name] = build_connector(settings, context)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"system {name}: connector {system.connector} failed to start: {exc}"
            ) from exc
    return connectors


def build_runtime(
    settings: Settings,
    *,
    alert_sink: AlertSink,
    clock: Clock | None = None,
    auto_upgrade: bool = False,
    env: Mapping[str, str] | None = None,
) -> Runtime:
    """Load the map, open the store, build connectors (starting sandboxes the map asks for)
    and the engine."""
    clock = clock or SystemClock()
    KNOWN_SECRETS.add(
        settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token
    )
    integration_map = read_map(settings.map_path)
    db = open_database(settings, auto_upgrade=auto_upgrade)
    exchange_log = ExchangeLog(settings.http_log, clock) if settings.http_log else None
    context = ConnectorContext(clock=clock, exchange_log=exchange_log)
    sandboxes: dict[str, RunningSandbox] = {}
    credentials: dict[str, dict[str, str]] = {}
    try:
        connectors = build_connectors(
            integration_map, context, os.environ if env is None else env, sandboxes, credentials
        )
    except BaseException:
        for served in sandboxes.values():
            served.shutdown()
        db.dispose()
        raise
    uow_factory = SqlUnitOfWorkFactory(db)
    engine = Engine(integration_map, uow_factory, connectors, clock, alert_sink)
    engine.prepare()
    return Runtime(
        settings,
        integration_map,
        db,
        uow_factory,
        connectors,
        engine,
        clock,
        sandboxes,
        credentials,
    )
