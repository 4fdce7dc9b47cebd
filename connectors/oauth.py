"""OAuth 2.0 refresh for every vendor: the refresh-token grant (RFC 6749 section 6) through the
vendor's own :class:`~connectors.http.VendorHttp`, so the token call is paced, logged and
redacted like any other, behind the shared rotation of :class:`connectors.tokens.RotatingAuth`
(refresh before expiry, a rotated refresh token saved before it is used).

A vendor declares only its token endpoint and how the app authenticates there: HTTP Basic with
the client id and secret (RFC 6749 section 2.3.1; Xero, Pipedrive) or both in the form body
(Asana's documented form).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import httpx

from connectors.base import ConfigError, ConnectorError, ConnectorSettings, Transient
from connectors.clock import Clock
from connectors.http import VendorHttp
from connectors.tokens import (
    JsonFileTokenStore,
    MemoryTokenStore,
    RotatingAuth,
    TokenSet,
    TokenStore,
)

if TYPE_CHECKING:
    from connectors.registry import ConnectorContext

__all__ = ["ClientAuth", "RefreshTokenAuth", "oauth_app", "token_store_for"]

APP_CREDENTIALS = ("client_id", "client_secret", "refresh_token")

ClientAuth = Literal["basic", "body"]


class RefreshTokenAuth(RotatingAuth):
    """Bearer tokens kept fresh with the refresh-token grant at ``token_path`` of ``identity``."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        store: TokenStore,
        identity: VendorHttp,
        token_path: str,
        clock: Clock,
        system: str,
        client_auth: ClientAuth = "basic",
        rotates: bool = True,
        seed: TokenSet | None = None,
    ) -> None:
        self.client_id = client_id
        self.rotates = rotates  # every answer carries a new refresh token
        self.identity = identity
        self.token_path = token_path
        self.client_auth = client_auth
        # what the token endpoint last said it granted (its ``scope``); None: not asked yet
        self.granted_scopes: frozenset[str] | None = None
        super().__init__(
            store=store,
            clock=clock,
            initial=seed or TokenSet("", refresh_token, clock.now().isoformat()),
            system=system,
            client_secret=client_secret,
        )

    def _basic(self) -> str:
        return base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()

    def secrets(self) -> list[str]:
        return [*super().secrets(), self._basic()]

    def _exchange(self, current: TokenSet) -> TokenSet:
        form = {"grant_type": "refresh_token", "refresh_token": current.refresh_token}
        headers: dict[str, str] = {}
        if self.client_auth == "basic":
            headers["Authorization"] = f"Basic {self._basic()}"
        else:
            form |= {"client_id": self.client_id, "client_secret": self.client_secret}
        try:
            response = self.identity.request(
                "POST", self.token_path, data=form, headers=headers, retry_auth=False
            )
        except Transient:
            raise
        except ConnectorError as exc:
            # invalid_grant / invalid_client: only a person re-authorising the app fixes it.
            raise ConfigError(
                f"{self.system}: the token endpoint refused the refresh token; "
                "re-authorise the app",
                http_status=exc.http_status,
                vendor_message=exc.vendor_message,
            ) from exc
        body = self.identity.json(response)
        try:
            access, lifetime = body["access_token"], float(body["expires_in"])
            # A vendor that does not rotate may answer without one: the old one still works.
            refresh = body["refresh_token"] if self.rotates else current.refresh_token
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{self.system}: token response lacks {exc}") from exc
        if not self.rotates:
            refresh = body.get("refresh_token") or refresh
        if isinstance(body.get("scope"), str):
            self.granted_scopes = frozenset(body["scope"].split())
        expires_at = self.clock.now() + timedelta(seconds=lifetime)
        # Pipedrive's answer names the company's API host; kept with the tokens it came with
        domain = body.get("api_domain")
        api_domain = domain if isinstance(domain, str) else current.api_domain
        return TokenSet(access, refresh, expires_at.isoformat(), api_domain)

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.access_token()}"


def token_store_for(
    settings: ConnectorSettings,
    context: ConnectorContext | None,
    token_store: TokenStore | None = None,
) -> tuple[TokenStore, TokenSet | None]:
    """Where an OAuth app's rotating tokens live, and the tokens to start from.

    The service's shared store (one per system) when it wires one; the option ``token_file``
    then seeds it once, after which the store's tokens win. Without a shared store the file
    itself keeps the rotated tokens (so a restart does not start from a spent refresh token),
    and without a file they are kept in memory."""
    token_file = settings.options.get("token_file")
    if token_store is None and context is not None and context.token_stores is not None:
        token_store = context.token_stores(settings.system or settings.connector)
    if token_store is not None:
        seed = JsonFileTokenStore(str(token_file)).load() if token_file else None
        return token_store, seed
    if token_file:
        return JsonFileTokenStore(str(token_file)), None
    return MemoryTokenStore(), None


def oauth_app(
    settings: ConnectorSettings,
    context: ConnectorContext | None,
    *,
    clock: Clock,
    token_path: str,
    client_auth: ClientAuth = "basic",
    rotates: bool = True,
    token_store: TokenStore | None = None,
) -> Callable[[VendorHttp], RefreshTokenAuth]:
    """An OAuth app's refresh from a system block (credentials ``client_id``,
    ``client_secret``, ``refresh_token``), its tokens kept where :func:`token_store_for`
    says; the vendor's client calls the result with the ``VendorHttp`` of its token host."""
    creds = settings.credentials
    missing = [name for name in APP_CREDENTIALS if not creds.get(name)]
    if missing:
        raise ConfigError(f"{settings.system}: OAuth needs the credential(s) {', '.join(missing)}")
    store, seed = token_store_for(settings, context, token_store)

    def make(identity: VendorHttp) -> RefreshTokenAuth:
        return RefreshTokenAuth(
            client_id=creds["client_id"],
            client_secret=creds["client_secret"],
            refresh_token=creds["refresh_token"],
            store=store,
            identity=identity,
            token_path=token_path,
            clock=clock,
            system=settings.system or settings.connector,
            client_auth=client_auth,
            rotates=rotates,
            seed=seed,
        )

    return make
