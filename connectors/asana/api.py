"""The HTTP side of the Asana client: bearer auth, pacing to the plan's documented limit, the
``{"data": ...}`` envelope, offset pagination and Asana's ``{"errors": [...]}`` messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.base import AuthExpired, SchemaChanged
from connectors.clock import Clock
from connectors.http import ExchangeLog, VendorHttp, retry_after_seconds
from connectors.oauth import RefreshTokenAuth
from connectors.paging import CursorPaginator, iterate
from connectors.ratelimit import RateLimiter, WindowLimit

from .limits import WINDOW_SECONDS, requests_per_minute

DEFAULT_BASE_URL = "https://app.asana.com/api/1.0"
API_PATH = "/api/1.0"
# Asana's OAuth quick reference: token exchange at POST /-/oauth_token on the app's host.
OAUTH_TOKEN_PATH = "/-/oauth_token"
PAGE_LIMIT_MAX = 100  # the spec's maximum for every paginated endpoint we call


def api_base(base_url: str | None) -> str:
    """Accept a server root (the sandbox's URL) or a URL already ending in ``/api/1.0``."""
    if not base_url:
        return DEFAULT_BASE_URL
    base = base_url.rstrip("/")
    return base if urlsplit(base).path.endswith(API_PATH) else base + API_PATH


def server_root(base_url: str | None) -> str:
    """The app's host (``https://app.asana.com``, or a sandbox's root) that serves OAuth."""
    base = api_base(base_url)
    return base[: -len(API_PATH)]


def asana_error_message(body: Any) -> str | None:
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, list):
            messages = [
                str(e["message"]) for e in errors if isinstance(e, Mapping) and "message" in e
            ]
            if messages:
                return "; ".join(messages)
        for key in ("error_description", "error", "message"):
            if body.get(key):
                return str(body[key])
    return None


class AsanaApi:
    def __init__(
        self,
        base_url: str | None,
        token: str,
        *,
        clock: Clock,
        oauth: Callable[[VendorHttp], RefreshTokenAuth] | None = None,
        plan: str = "free",
        exchange_log: ExchangeLog | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._token = token
        # An OAuth app's tokens (refreshed by the kit) instead of a fixed personal token.
        self.identity: VendorHttp | None = None
        self.oauth: RefreshTokenAuth | None = None
        if oauth is not None:
            self.identity = VendorHttp(
                "asana-identity",
                server_root(base_url),
                clock=clock,
                exchange_log=exchange_log,
                error_message=asana_error_message,
                secrets=self._secrets,
                timeout=timeout,
                transport=transport,
            )
            self.oauth = oauth(self.identity)
        # Pace below the documented per-minute quota so Asana never has to refuse us.
        self.limiter = RateLimiter(
            clock, [WindowLimit("requests", requests_per_minute(plan), WINDOW_SECONDS)]
        )
        self.http = VendorHttp(
            "asana",
            api_base(base_url),
            clock=clock,
            limiter=self.limiter,
            exchange_log=exchange_log,
            auth=self._authorize,
            on_response=self._observe,
            error_message=asana_error_message,
            secrets=self._secrets,
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()
        if self.identity is not None:
            self.identity.close()

    def _secrets(self) -> list[str]:
        return [self._token, *(self.oauth.secrets() if self.oauth else [])]

    def _authorize(self, request: httpx.Request) -> None:
        if self.oauth is not None:
            self.oauth.apply(request)
        else:
            request.headers["Authorization"] = f"Bearer {self._token}"

    def _observe(self, response: httpx.Response) -> None:
        # Asana publishes no remaining-count header; Retry-After on a 429 is its only signal,
        # and it holds every later call too, not just the one that was refused.
        if response.status_code == 429:
            self.limiter.pause("requests", retry_after_seconds(response))

    # ---------------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One request; returns the whole JSON body after checking it has ``data``."""
        body = {"data": dict(data)} if data is not None else None
        held = self.oauth.tokens.access_token if self.oauth is not None else None
        try:
            response = self.http.request(method, path, params=params, json_body=body)
        except AuthExpired:
            if self.oauth is None or held is None:
                raise
            self.oauth.force_refresh(held)
            # A second 401 raises AuthExpired again: refreshed once, never in a loop.
            response = self.http.request(method, path, params=params, json_body=body)
        payload = self.http.json(response)
        if not isinstance(payload, dict) or "data" not in payload:
            raise SchemaChanged(
                f"asana: response to {method} {path} has no 'data' key",
                http_status=response.status_code,
                exchange_id=self.http.last_exchange_id,
            )
        return payload

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs)["data"]

    @staticmethod
    def paginator(path: str, offset: str | None = None) -> CursorPaginator:
        """Asana's pagination: the ``offset`` token of the answer's ``next_page``."""
        return CursorPaginator(f"asana: GET {path}", _next_offset, param="offset", position=offset)

    def page(
        self, path: str, params: Mapping[str, Any], *, limit: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One page of a list endpoint: the whole answer and its items."""
        query = dict(params, limit=max(1, min(limit, PAGE_LIMIT_MAX)))
        payload = self.call("GET", path, params=query)
        items = payload["data"]
        if not isinstance(items, list):
            raise SchemaChanged(f"asana: 'data' of GET {path} is not a list")
        return payload, items

    def iterate(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        def fetch(
            target: str, query: Mapping[str, Any]
        ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            return self.page(target, {**params, **query}, limit=PAGE_LIMIT_MAX)

        yield from iterate(self.paginator(path), path, fetch)


def _next_offset(payload: Any) -> str | None:
    next_page = payload.get("next_page") if isinstance(payload, Mapping) else None
    offset = next_page.get("offset") if isinstance(next_page, Mapping) else None
    return str(offset) if offset else None
