"""Pipedrive: deals, persons and organizations (API v2), custom fields (API v1).

Credentials: ``api_token`` (sent as ``x-api-token``), ``access_token`` (a fixed OAuth bearer),
or an OAuth app's ``client_id``, ``client_secret`` and ``refresh_token`` (refreshed before
expiry; rotated tokens kept in the service's token store, or ``token_file``).
Options: ``token_url`` (default Pipedrive's OAuth server, or ``<base_url>/oauth/token``),
``token_file``, ``company_domain`` (deep links and the default host), ``rate_limit_per_2s`` (your
plan's burst limit; 20 for an api_token, 80 for OAuth by default), ``search_limit_per_2s``
(10), ``timeout`` (seconds).
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.base import ConnectorSettings
from connectors.clock import Clock
from connectors.pipedrive.client import PipedriveConnector, web_url
from connectors.pipedrive.demo import DEMO_OPTIONS, demo_sandbox, seed_in_process
from connectors.pipedrive.records import RECORD_TYPES
from connectors.pipedrive.sandbox import PipedriveSandbox
from connectors.registry import ConnectorContext
from connectors.sandboxes import DemoSandbox
from connectors.vendor import Vendor

__all__ = ["VENDOR", "PipedriveConnector", "build"]


def build(
    settings: ConnectorSettings,
    context: ConnectorContext,
    *,
    transport: httpx.BaseTransport | None = None,
) -> PipedriveConnector:
    return PipedriveConnector(
        settings,
        clock=context.clock,
        exchange_log=context.exchange_log,
        transport=transport,
        context=context,
    )


# The OAuth app installed on every HTTP sandbox, for maps that give a Pipedrive OAuth app's
# credentials: the sandbox hands out its id, secret and current refresh token.
SANDBOX_APP = ("sandbox-pipedrive-app", "sandbox-pipedrive-app-secret")


def _demo_sandbox(clock: Clock, seed: str, state: dict[str, Any] | None = None) -> DemoSandbox:
    demo = demo_sandbox(clock, seed, state)
    sandbox: PipedriveSandbox = demo.sandbox
    client_id, secret = SANDBOX_APP
    if client_id not in sandbox.oauth_apps:
        sandbox.add_oauth_app(client_id, secret, "sandbox-pipedrive-refresh-0")
    demo.oauth_app = lambda: sandbox.app_credentials(client_id)
    return demo


VENDOR = Vendor(
    name="pipedrive",
    record_types=RECORD_TYPES,
    build=build,
    web_url=web_url,
    demo_sandbox=_demo_sandbox,
    demo_options=DEMO_OPTIONS,
    merges=True,
    seed=seed_in_process,
)
