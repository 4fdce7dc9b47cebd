"""Mailchimp (Marketing API 3.0): audience members and audiences.

Credentials: ``api_key`` (its ``-us6`` suffix names the data centre) or ``access_token``
(OAuth; then the ``server`` option names the data centre). Options: ``list_id`` (the audience
whose members sync), ``status_if_new`` (``subscribed`` by default), ``batch_threshold`` (20:
upserts of at least this many items go through batch operations), ``max_connections`` (10,
Mailchimp's limit per key), ``timeout`` (120 s, Mailchimp's own).
"""

from __future__ import annotations

import httpx

from connectors.base import ConnectorSettings
from connectors.registry import ConnectorContext

from .client import MailchimpConnector

__all__ = ["MailchimpConnector", "build"]


def build(
    settings: ConnectorSettings,
    context: ConnectorContext,
    *,
    transport: httpx.BaseTransport | None = None,
) -> MailchimpConnector:
    return MailchimpConnector(
        settings, clock=context.clock, exchange_log=context.exchange_log, transport=transport
    )
