"""How Handoff talks to Pipedrive: credentials, the documented rate limits, and the vendor's
rate-limit headers.

Documented limits (Pipedrive "Rate limiting"): a rolling 2-second window per token, 20 calls
per 2 s with an ``api_token`` on the smallest plan and 80 with an OAuth ``access_token``;
search endpoints 10 per 2 s whatever the plan. Every response carries ``x-ratelimit-limit``,
``x-ratelimit-remaining``, ``x-ratelimit-reset`` (seconds until the window resets) and, for
api_token calls, ``x-daily-requests-left`` (POST/PUT calls left today, UTC).

An OAuth app (Pipedrive "OAuth authorization") refreshes its access token at
``https://oauth.pipedrive.com/oauth/token`` with the refresh-token grant, the app's client id
and secret sent by HTTP Basic; the answer carries ``access_token``, ``refresh_token``,
``expires_in`` and ``api_domain`` (the company's own API host), which later calls use when the
map names no ``base_url``. The host is kept with the tokens in their store, so a process that
uses tokens another one refreshed (the Slack bot beside the sync service) calls it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from connectors.base import AuthExpired, ConfigError, ConnectorSettings, RateLimited
from connectors.clock import Clock
from connectors.exchange_audit import note_wait
from connectors.http import ExchangeLog, VendorHttp
from connectors.oauth import RefreshTokenAuth, oauth_app
from connectors.ratelimit import RateLimiter, WindowLimit

if TYPE_CHECKING:
    from connectors.registry import ConnectorContext

WINDOW_SECONDS = 2.0
API_TOKEN_CALLS = 20
ACCESS_TOKEN_CALLS = 80
SEARCH_CALLS = 10
DEFAULT_HOST = "https://api.pipedrive.com"
TOKEN_URL = "https://oauth.pipedrive.com/oauth/token"
TOKEN_PATH = "/oauth/token"
SEARCH_MARKERS = ("/search", "/itemSearch")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class Credentials:
    header: str
    value: str
    refreshable: bool  # an OAuth token may be renewed by its owner; an api_token may not

    @classmethod
    def from_settings(cls, credentials: Mapping[str, str]) -> Credentials:
        if credentials.get("refresh_token"):
            # the bearer comes from the refresh (RefreshTokenAuth), never from the map
            return cls("Authorization", "", True)
        if credentials.get("access_token"):
            return cls("Authorization", f"Bearer {credentials['access_token']}", True)
        if credentials.get("api_token"):
            return cls("x-api-token", credentials["api_token"], False)
        raise ConfigError(
            "pipedrive needs the credential 'api_token', 'access_token', or an OAuth app's "
            "'client_id', 'client_secret' and 'refresh_token'"
        )

    def secret(self) -> str:
        return self.value.removeprefix("Bearer ")


def is_search(path: str) -> bool:
    return any(marker in path for marker in SEARCH_MARKERS)


class PipedriveSession:
    """One VendorHttp plus the search limiter and the daily write budget."""

    def __init__(
        self,
        settings: ConnectorSettings,
        clock: Clock,
        exchange_log: ExchangeLog | None,
        transport: httpx.BaseTransport | None,
        context: ConnectorContext | None = None,
    ) -> None:
        self.credentials = Credentials.from_settings(settings.credentials)
        options = settings.options
        self.clock = clock
        self.oauth: RefreshTokenAuth | None = None
        self.identity: VendorHttp | None = None
        default_calls = ACCESS_TOKEN_CALLS if self.credentials.refreshable else API_TOKEN_CALLS
        calls = int(options.get("rate_limit_per_2s", default_calls))
        self.limiter = RateLimiter(clock, [WindowLimit("burst", calls, WINDOW_SECONDS)])
        self.search_limiter = RateLimiter(
            clock,
            [
                WindowLimit(
                    "search", int(options.get("search_limit_per_2s", SEARCH_CALLS)), WINDOW_SECONDS
                )
            ],
        )
        self.daily_writes_left: int | None = None
        self.extra_secrets: list[str] = []  # e.g. a webhook's basic-auth password
        self.pinned_host = bool(settings.base_url)  # a map's base_url wins over api_domain
        base_url = settings.base_url or _host(options.get("company_domain"))
        if settings.credentials.get("refresh_token"):
            self._oauth(settings, context, exchange_log, transport)
        self.http = VendorHttp(
            settings.system,
            base_url,
            clock=clock,
            limiter=self.limiter,
            exchange_log=exchange_log,
            auth=self._authorize,
            on_response=self._observe,
            secrets=self._secrets,
            timeout=float(options.get("timeout", 30.0)),
            transport=transport,
        )

    def _oauth(
        self,
        settings: ConnectorSettings,
        context: ConnectorContext | None,
        exchange_log: ExchangeLog | None,
        transport: httpx.BaseTransport | None,
    ) -> None:
        options = settings.options
        token_url = str(options.get("token_url") or _token_url(settings.base_url))
        parts = urlsplit(token_url)
        self.identity = VendorHttp(
            f"{settings.system}-identity",
            f"{parts.scheme}://{parts.netloc}",
            clock=self.clock,
            exchange_log=exchange_log,
            secrets=self._secrets,
            timeout=float(options.get("timeout", 30.0)),
            transport=transport,
        )
        self.oauth = oauth_app(
            settings,
            context,
            clock=self.clock,
            token_path=parts.path,
        )(self.identity)

    def _follow_api_domain(self, domain: str | None) -> None:
        """The tokens in use name the company's API host (whichever process got them);
        follow it unless the map pins one."""
        if self.pinned_host or domain is None:
            return
        parts = urlsplit(domain)
        if parts.scheme == "https" and parts.hostname and parts.hostname.endswith(".pipedrive.com"):
            self.http.client.base_url = httpx.URL(f"https://{parts.netloc}")

    def _secrets(self) -> list[str]:
        held = self.oauth.secrets() if self.oauth is not None else []
        return [self.credentials.secret(), *held, *self.extra_secrets]

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Every call goes through here: search calls also wait for the search window, and writes
        stop at once when the day's budget is spent (waiting hours in a worker helps nobody; the
        engine's retry schedule takes over)."""
        if method.upper() in WRITE_METHODS and self.daily_writes_left == 0:
            raise RateLimited(
                f"{self.http.system}: no POST/PUT requests left today (x-daily-requests-left: 0)",
                http_status=429,
                retry_after=self._seconds_to_utc_midnight(),
            )
        kwargs.setdefault("retry_auth", self.credentials.refreshable)
        if self.oauth is None:
            return self._send(method, path, **kwargs)
        # Refresh before the request is built: new tokens may name another host.
        held = self.oauth.access_token()
        self._follow_api_domain(self.oauth.tokens.api_domain)
        try:
            return self._send(method, path, **kwargs)
        except AuthExpired:
            self.oauth.force_refresh(held)
            self._follow_api_domain(self.oauth.tokens.api_domain)
            # A second 401 raises AuthExpired again: refreshed once, never in a loop.
            return self._send(method, path, **kwargs)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if not is_search(path):
            return self.http.request(method, path, **kwargs)
        with self.search_limiter.slot() as waited:
            if waited:
                note_wait(waited)
            return self.http.request(method, path, **kwargs)

    def json(self, response: httpx.Response) -> Any:
        return self.http.json(response)

    def close(self) -> None:
        self.http.close()
        if self.identity is not None:
            self.identity.close()

    # -------------------------------------------------------------------------------------

    def _authorize(self, request: httpx.Request) -> None:
        if self.oauth is not None:
            self.oauth.apply(request)
        else:
            request.headers[self.credentials.header] = self.credentials.value

    def _observe(self, response: httpx.Response) -> None:
        headers = response.headers
        remaining = _int(headers.get("x-ratelimit-remaining"))
        if remaining == 0:
            reset = _float(headers.get("x-ratelimit-reset"))
            wait = reset if reset is not None and reset > 0 else WINDOW_SECONDS
            if is_search(response.request.url.path):
                self.search_limiter.pause("search", wait)
            else:
                self.limiter.pause("burst", wait)
        daily = _int(headers.get("x-daily-requests-left"))
        if daily is not None:
            self.daily_writes_left = daily

    def _seconds_to_utc_midnight(self) -> float:
        now: datetime = self.clock.now()
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return (midnight - now).total_seconds()


def _host(company_domain: Any) -> str:
    return f"https://{company_domain}.pipedrive.com" if company_domain else DEFAULT_HOST


def _token_url(base_url: str | None) -> str:
    """Pipedrive's OAuth server, or the token endpoint a sandbox serves beside its API."""
    return base_url.rstrip("/") + TOKEN_PATH if base_url else TOKEN_URL


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
