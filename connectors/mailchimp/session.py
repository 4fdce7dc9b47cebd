"""How Handoff talks to Mailchimp: the data centre, basic auth, the connection limit, and
Mailchimp's error documents.

An API key ends in its data centre (``...-us6``) and the API lives at
``https://us6.api.mailchimp.com/3.0``; it is sent as the password of HTTP basic auth (any user
name). An OAuth access token is sent as a bearer token, with the data centre given as the
``server`` option (Mailchimp's OAuth metadata calls it ``dc``). The Marketing API allows 10
concurrent connections per API key and publishes no per-minute quota, so the only client-side
limit is a cap of 10 calls in flight. Errors arrive as problem documents
(``application/problem+json``: ``type``, ``title``, ``status``, ``detail``, ``instance``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import (
    AuthExpired,
    ConfigError,
    ConnectorError,
    ConnectorSettings,
    Permanent,
    RateLimited,
    Transient,
)
from connectors.clock import Clock
from connectors.http import ExchangeLog, VendorHttp
from connectors.ratelimit import RateLimiter

API_PATH = "/3.0"
MAX_CONNECTIONS = 10  # "a limit of 10 concurrent connections for your API key"
TIMEOUT = 120.0  # "Requests to the Marketing API time out at 120 seconds"
DATA_CENTRE = re.compile(r"^[a-z]{2,3}[0-9]{1,3}$")


@dataclass(frozen=True)
class Credentials:
    header: str
    secret: str
    data_centre: str
    refreshable: bool

    @classmethod
    def from_settings(cls, settings: ConnectorSettings) -> Credentials:
        creds = settings.credentials
        if creds.get("access_token"):
            dc = str(settings.options.get("server") or "")
            if not DATA_CENTRE.match(dc) and not settings.base_url:
                raise ConfigError(
                    f"{settings.system}: an OAuth access_token needs the 'server' option "
                    "(the account's data centre, e.g. us6)"
                )
            return cls("Bearer " + creds["access_token"], creds["access_token"], dc, True)
        key = creds.get("api_key")
        if not key:
            raise ConfigError(f"{settings.system}: mailchimp needs 'api_key' or 'access_token'")
        _, _, dc = key.rpartition("-")
        if not DATA_CENTRE.match(dc):
            raise ConfigError(
                f"{settings.system}: a Mailchimp API key ends in its data centre ('-us6')"
            )
        basic = base64.b64encode(f"handoff:{key}".encode()).decode()
        return cls("Basic " + basic, key, dc, False)


def api_base_url(base_url: str | None, data_centre: str) -> str:
    """The API root: the data centre's host, or a sandbox's URL with ``/3.0`` appended."""
    if not base_url:
        return f"https://{data_centre}.api.mailchimp.com{API_PATH}"
    base = base_url.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


def problem_message(body: Any) -> str | None:
    """``title: detail`` of a problem document, plus field errors when it lists them."""
    if not isinstance(body, Mapping):
        return None
    parts = [str(body[k]) for k in ("title", "detail") if body.get(k)]
    for error in body.get("errors") or []:
        if isinstance(error, Mapping) and error.get("message"):
            parts.append(f"{error.get('field') or 'field'}: {error['message']}")
    return ": ".join(parts[:2]) + ("; " + "; ".join(parts[2:]) if parts[2:] else "") or None


def classify_problem(
    status: int,
    body: Any,
    where: str,
    exchange_id: str | None = None,
    *,
    refreshable: bool = False,
) -> ConnectorError:
    """One error document (from a response or a batch operation's result) as a connector
    error: 429 waits, 5xx and 408 are transient, 401 is an expired OAuth token (renewable) or
    a wrong API key (configuration), other 4xx are the record's own fault."""
    message = problem_message(body)
    kwargs: dict[str, Any] = {
        "http_status": status,
        "vendor_message": message,
        "exchange_id": exchange_id,
    }
    if status == 429:
        return RateLimited(f"mailchimp: {where} → 429", retry_after=1.0, **kwargs)
    if status >= 500 or status == 408:
        return Transient(f"mailchimp: {where} → {status}", **kwargs)
    if status == 401:
        cls = AuthExpired if refreshable else ConfigError
        return cls(f"mailchimp: {where} → 401", **kwargs)
    return Permanent(f"mailchimp: {where} → {status}", **kwargs)


class MailchimpSession:
    """One VendorHttp with basic or bearer auth and at most 10 calls in flight."""

    def __init__(
        self,
        settings: ConnectorSettings,
        clock: Clock,
        exchange_log: ExchangeLog | None,
        transport: httpx.BaseTransport | None,
    ) -> None:
        self.credentials = Credentials.from_settings(settings)
        options = settings.options
        self.clock = clock
        connections = int(options.get("max_connections", MAX_CONNECTIONS))
        self.limiter = RateLimiter(
            clock, [], max_in_flight=max(1, min(connections, MAX_CONNECTIONS))
        )
        self.base_url = api_base_url(settings.base_url, self.credentials.data_centre)
        self.transport = transport
        self.exchange_log = exchange_log
        self.extra_secrets: list[str] = []  # e.g. the webhook secret in a subscribed URL
        self.timeout = float(options.get("timeout", TIMEOUT))
        self.http = VendorHttp(
            settings.system,
            self.base_url,
            clock=clock,
            limiter=self.limiter,
            exchange_log=exchange_log,
            auth=self._authorize,
            error_message=problem_message,
            secrets=lambda: [self.credentials.secret, *self.extra_secrets],
            timeout=self.timeout,
            transport=transport,
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        """One call as JSON (``None`` for an empty 204); errors sorted by
        :func:`classify_problem`."""
        try:
            response = self.http.request(
                method,
                path,
                params=params,
                json_body=json_body,
                retry_auth=self.credentials.refreshable,
            )
        except ConnectorError as exc:
            if exc.http_status is None or exc.http_status == 429:
                raise
            raise classify_problem(
                exc.http_status,
                {"title": exc.vendor_message},
                f"{method} {path}",
                exc.exchange_id,
                refreshable=self.credentials.refreshable,
            ) from exc
        if response.status_code == 204 or not response.content:
            return None
        return self.http.json(response)

    def close(self) -> None:
        self.http.close()

    def _authorize(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = self.credentials.header
