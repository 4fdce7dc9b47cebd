"""The one wiring function: settings in, a ready runtime out. Nothing is built at import."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import Engine as DbEngine

from bot.settings import Settings, resolve_credentials
from connectors.base import ConfigError, Connector, ConnectorSettings
from connectors.clock import Clock, SystemClock
from connectors.http import ExchangeLog
from connectors.redaction import KNOWN_SECRETS
from connectors.registry import ConnectorContext, build_connector
from connectors.sandbox_host import SandboxHost
from connectors.sandboxes import RunningSandbox, sandbox_names, start_sandbox
from sync_core.alerts import AlertSink
from sync_core.engine import Engine
from sync_core.map.loader import load_map
from sync_core.map.model import IntegrationMap
from sync_core.store.credentials import SqlTokenStores, cipher_for
from sync_core.store.db import current_revision, is_sqlite, make_engine
from sync_core.store.uow import SqlUnitOfWorkFactory

SANDBOX_BASE_URL = "sandbox"

# (connector, seed) -> a running sandbox for a system that says ``base_url: sandbox``
SandboxStarter = Callable[[str, str], RunningSandbox]


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
    sandbox_host: SandboxHost | None = None
    # one line when this run adopted another map than the store ran before
    map_note: str | None = None
    map_path: Path | None = None
    exchange_log: ExchangeLog | None = None  # pruned by the retention job

    def close(self) -> None:
        for connector in self.connectors.values():
            connector.close()
        for served in self.sandboxes.values():
            served.shutdown()
        if self.sandbox_host is not None:
            self.sandbox_host.close()
        self.db.dispose()


def fresh_sandbox(connector: str, clock: Clock, seed: str) -> RunningSandbox:
    """A sandbox of this process only: it starts afresh every time."""
    return start_sandbox(connector, clock, seed=seed)


def persistent_sandboxes(state_file: Path, clock: Clock) -> SandboxHost:
    """Every vendor sandbox in one server whose records are kept in ``state_file`` (what
    ``handoff sandbox serve`` runs), serving on a free port."""
    host = SandboxHost(sandbox_names(), clock, state_file=state_file)
    host.serve()
    return host


def sandbox_state_beside(db: DbEngine) -> Path | None:
    """Where ``handoff run`` keeps its sandboxes' records: beside a SQLite store
    (``handoff.db`` -> ``handoff.sandboxes.json``); nowhere for a server database."""
    name = db.url.database
    if not is_sqlite(db) or not name or name == ":memory:":
        return None
    path = Path(name)
    return path.with_name(path.stem + ".sandboxes.json")


def read_map(path: Path) -> IntegrationMap:
    """The map at ``path``, or :class:`sync_core.map.problems.MapError` naming every error."""
    return load_map(path).require_valid()


def open_database(settings: Settings, *, auto_upgrade: bool = False) -> DbEngine:
    from sync_core.store.db import database_url, known_revisions, upgrade

    url = database_url(settings.database_url)
    if auto_upgrade:
        upgrade(url)
    db = make_engine(url)
    revision = current_revision(db)
    where = "the SQLite file" if is_sqlite(url) else "the database"
    if revision is None:
        db.dispose()
        raise NotMigrated(f"{where} has no Handoff schema yet: run `handoff db upgrade` first")
    head, known = known_revisions()
    if revision not in known:
        db.dispose()
        raise NotMigrated(
            f"{where} holds schema revision {revision}, newer than this version of Handoff"
            f" knows (its newest is {head}): run the version of Handoff that upgraded it"
        )
    if revision != head:
        db.dispose()
        raise NotMigrated(
            f"{where} holds schema revision {revision}, and this version of Handoff needs"
            f" {head}: run `handoff db upgrade` first"
        )
    return db


def build_connectors(
    integration_map: IntegrationMap,
    context: ConnectorContext,
    env: Mapping[str, str],
    sandboxes: dict[str, RunningSandbox],
    credentials: dict[str, dict[str, str]] | None = None,
    start: SandboxStarter | None = None,
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
            seed = str(options.get("seed") or "")
            if start is None:
                running = fresh_sandbox(system.connector, context.clock, seed)
            else:
                running = start(system.connector, seed)
            sandboxes[name] = running
            base_url = running.url
            # The sandbox made its own workspace ids and tokens: they win over the map's.
            credentials_now = running.demo.credentials_for(system.env_names())
            system_credentials.update(credentials_now)
            KNOWN_SECRETS.add(*credentials_now.values())
            options = running.demo.options_for(options)
            # Its tokens are the ones it issued (credentials_now): a token file kept from an
            # earlier sandbox holds a refresh token this one never issued (invalid_grant).
            options.pop("token_file", None)
        system_context = context
        if sandboxed:
            # A sandbox started here issues tokens for this process only: none to share.
            system_context = replace(context, token_stores=None)
        settings = ConnectorSettings(
            system=name,
            connector=system.connector,
            credentials=system_credentials,
            options=options,
            base_url=base_url,
        )
        try:
            connectors[name] = build_connector(settings, system_context)
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
    keep_sandboxes: bool = False,
    adopt_map: bool = False,
) -> Runtime:
    """Open the store, choose and load the map (recording it when ``adopt_map``), build
    connectors (starting sandboxes the map asks for) and the engine. With ``keep_sandboxes``
    the sandboxes are served as one server whose records are kept beside a SQLite store, so
    the next run finds them as they were."""
    from bot.map_choice import choose_map, record_map

    clock = clock or SystemClock()
    KNOWN_SECRETS.add(
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.secret_key,
    )
    db = open_database(settings, auto_upgrade=auto_upgrade)
    try:
        choice = choose_map(settings, db, adopt=adopt_map or settings.map_changed)
        integration_map = read_map(choice.path)
    except BaseException:
        db.dispose()
        raise
    exchange_log = ExchangeLog(settings.http_log, clock) if settings.http_log else None
    token_stores = SqlTokenStores(
        db, lambda: cipher_for(settings.secret_key, db.url), now=clock.now
    )
    context = ConnectorContext(clock=clock, exchange_log=exchange_log, token_stores=token_stores)
    sandboxes: dict[str, RunningSandbox] = {}
    credentials: dict[str, dict[str, str]] = {}
    host: SandboxHost | None = None
    state_file = sandbox_state_beside(db)
    wants_sandbox = any(s.base_url == SANDBOX_BASE_URL for s in integration_map.systems.values())

    def shared(connector: str, seed: str) -> RunningSandbox:
        nonlocal host
        if host is None:
            assert state_file is not None
            host = persistent_sandboxes(state_file, clock)
        return host.running(connector)

    start = shared if keep_sandboxes and wants_sandbox and state_file is not None else None
    try:
        connectors = build_connectors(
            integration_map,
            context,
            os.environ if env is None else env,
            sandboxes,
            credentials,
            start,
        )
    except BaseException:
        for served in sandboxes.values():
            served.shutdown()
        if host is not None:
            host.close()
        db.dispose()
        raise
    uow_factory = SqlUnitOfWorkFactory(db)
    engine = Engine(integration_map, uow_factory, connectors, clock, alert_sink)
    engine.prepare()
    if adopt_map or settings.map_changed:
        record_map(db, choice.path)
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
        host,
        choice.note,
        choice.path,
        exchange_log,
    )
