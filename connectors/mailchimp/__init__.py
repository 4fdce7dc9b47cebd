"""Mailchimp (Marketing API 3.0): audience members and audiences.

Credentials: ``api_key`` (its ``-us6`` suffix names the data centre) or ``access_token``
(OAuth; then the ``server`` option names the data centre). Options: ``list_id`` (the audience
whose members sync), ``status_if_new`` (``subscribed`` by default), ``batch_threshold`` (20:
upserts of at least this many items go through batch operations), ``max_connections`` (10,
Mailchimp's limit per key), ``timeout`` (120 s, Mailchimp's own).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import ConnectorSettings
from connectors.registry import ConnectorContext
from connectors.vendor import Vendor

from .client import MailchimpConnector
from .demo import demo_sandbox
from .records import RECORD_TYPES

__all__ = ["VENDOR", "MailchimpConnector", "build"]


def build(
    settings: ConnectorSettings,
    context: ConnectorContext,
    *,
    transport: httpx.BaseTransport | None = None,
) -> MailchimpConnector:
    return MailchimpConnector(
        settings, clock=context.clock, exchange_log=context.exchange_log, transport=transport
    )


def web_url(options: Mapping[str, Any]) -> str:
    """The account's web app, on its data centre (``server``), else the default one."""
    return f"https://{options.get('server') or 'us1'}.admin.mailchimp.com"


VENDOR = Vendor(
    name="mailchimp",
    record_types=RECORD_TYPES,
    build=build,
    web_url=web_url,
    demo_sandbox=demo_sandbox,
)
