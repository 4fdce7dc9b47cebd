"""Xero connector: ``build(settings, context)`` for the registry.

Credentials: ``client_id``, ``client_secret``, ``refresh_token``, ``tenant_id``.
Options: ``token_url`` (default Xero's identity server, or ``<base_url>/connect/token``
when ``base_url`` points elsewhere, as for the sandbox), ``token_file`` (tokens to start from;
imported once into the token store the service wires, and where rotated tokens are kept when it
wires none), ``page_size`` (1-1000, default 100), ``timeout`` (seconds),
``short_code`` (the organisation's ShortCode, for deep links that select it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.base import ConfigError, ConnectorSettings
from connectors.oauth import oauth_app
from connectors.registry import ConnectorContext
from connectors.vendor import Vendor

from .auth import (
    DEFAULT_TOKEN_URL,
    JsonFileTokenStore,
    MemoryTokenStore,
    TokenSet,
    TokenStore,
)
from .client import API_PATH, WEB_APP, XeroConnector
from .demo import demo_sandbox, sandbox_id, seed_in_process
from .resources import RECORD_TYPES

__all__ = [
    "VENDOR",
    "JsonFileTokenStore",
    "MemoryTokenStore",
    "TokenSet",
    "TokenStore",
    "XeroConnector",
    "build",
]

CREDENTIALS = ("client_id", "client_secret", "refresh_token", "tenant_id")


def _token_url(settings: ConnectorSettings) -> str:
    configured = settings.options.get("token_url")
    if configured:
        return str(configured)
    if settings.base_url:
        # A sandbox served under a base path (``http://host/xero``) has its token endpoint
        # under the same path.
        parts = urlsplit(settings.base_url)
        prefix = parts.path.rstrip("/").removesuffix(API_PATH)
        return f"{parts.scheme}://{parts.netloc}{prefix}/connect/token"
    return DEFAULT_TOKEN_URL


def build(
    settings: ConnectorSettings,
    context: ConnectorContext,
    *,
    transport: httpx.BaseTransport | None = None,
    token_store: TokenStore | None = None,
) -> XeroConnector:
    missing = [name for name in CREDENTIALS if not settings.credentials.get(name)]
    if missing:
        raise ConfigError(f"{settings.system}: missing Xero credentials: {', '.join(missing)}")
    creds = settings.credentials
    options: dict[str, Any] = settings.options
    token_url = _token_url(settings)
    auth_factory = oauth_app(
        settings,
        context,
        clock=context.clock,
        token_path=urlsplit(token_url).path,
        token_store=token_store,
    )
    return XeroConnector(
        auth_factory=auth_factory,
        tenant_id=creds["tenant_id"],
        clock=context.clock,
        base_url=settings.base_url,
        token_url=token_url,
        exchange_log=context.exchange_log,
        transport=transport,
        page_size=int(options.get("page_size", 100)),
        timeout=float(options.get("timeout", 30.0)),
        short_code=options.get("short_code"),
        system=settings.system or "xero",
    )


VENDOR = Vendor(
    name="xero",
    record_types=RECORD_TYPES,
    build=build,
    web_url=lambda options: WEB_APP,
    demo_sandbox=demo_sandbox,
    seed=seed_in_process,
    sandbox_id=sandbox_id,
)
