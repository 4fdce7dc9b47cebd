"""Asana: projects (and tasks) with the canonical ID in a text custom field.

Map block: credentials ``token`` (personal access token or OAuth bearer); options
``workspace`` and ``team`` (gids), ``project`` (gid, for tasks), ``plan`` (free|paid, sets the
documented request quota), ``timeout`` (seconds).
"""

from __future__ import annotations

import httpx

from connectors.base import ConfigError, ConnectorSettings
from connectors.registry import ConnectorContext
from connectors.vendor import Vendor

from .api import AsanaApi
from .connector import WEB_APP, AsanaConnector
from .demo import demo_sandbox, seed_in_process
from .limits import DEFAULT_PLAN, REQUESTS_PER_MINUTE
from .records import RECORD_TYPES

__all__ = ["VENDOR", "AsanaConnector", "build"]


def build(
    settings: ConnectorSettings,
    context: ConnectorContext,
    *,
    transport: httpx.BaseTransport | None = None,
) -> AsanaConnector:
    token = settings.credentials.get("token")
    if not token:
        raise ConfigError(f"{settings.system}: credential 'token' is missing")
    options = settings.options
    missing = [name for name in ("workspace", "team") if not options.get(name)]
    if missing:
        raise ConfigError(f"{settings.system}: option(s) {', '.join(missing)} missing (gids)")
    plan = str(options.get("plan", DEFAULT_PLAN))
    if plan not in REQUESTS_PER_MINUTE:
        raise ConfigError(f"{settings.system}: option 'plan' must be free or paid, not {plan!r}")
    api = AsanaApi(
        settings.base_url,
        token,
        clock=context.clock,
        plan=plan,
        exchange_log=context.exchange_log,
        transport=transport,
        timeout=float(options.get("timeout", 30.0)),
    )
    project = options.get("project")
    return AsanaConnector(
        api,
        workspace=str(options["workspace"]),
        team=str(options["team"]),
        project=str(project) if project else None,
    )


VENDOR = Vendor(
    name="asana",
    record_types=RECORD_TYPES,
    build=build,
    web_url=lambda options: WEB_APP,
    demo_sandbox=demo_sandbox,
    seed=seed_in_process,
)
