"""OAuth2 for Xero: its token endpoint, behind the shared rotation of :mod:`connectors.tokens`.

Xero hands out a new refresh token with every refresh and the old one stops working; every
process using the connection refreshes through one token store (see
:class:`connectors.tokens.RotatingAuth`), so none of them is left with a spent token.
"""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx

from connectors.base import ConfigError, ConnectorError, Transient
from connectors.clock import Clock
from connectors.http import VendorHttp
from connectors.tokens import (
    EXPIRY_MARGIN,
    JsonFileTokenStore,
    MemoryTokenStore,
    RotatingAuth,
    TokenSet,
    TokenStore,
)

__all__ = [
    "DEFAULT_TOKEN_URL",
    "EXPIRY_MARGIN",
    "JsonFileTokenStore",
    "MemoryTokenStore",
    "TokenSet",
    "TokenStore",
    "XeroAuth",
]

DEFAULT_TOKEN_URL = "https://identity.xero.com/connect/token"


class XeroAuth(RotatingAuth):
    """Xero's token endpoint: HTTP Basic with the app's id and secret, a refresh-token grant."""

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
        seed: TokenSet | None = None,
        system: str = "xero",
    ) -> None:
        self.client_id = client_id
        self.identity = identity
        # what the token endpoint last said it granted (its ``scope``); None: not asked yet
        self.granted_scopes: frozenset[str] | None = None
        self.token_path = token_path
        super().__init__(
            store=store,
            clock=clock,
            initial=seed or TokenSet("", refresh_token, clock.now().isoformat()),
            system=system,
            client_secret=client_secret,
        )

    def secrets(self) -> list[str]:
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return [*super().secrets(), basic]

    def _exchange(self, current: TokenSet) -> TokenSet:
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        try:
            response = self.identity.request(
                "POST",
                self.token_path,
                data={"grant_type": "refresh_token", "refresh_token": current.refresh_token},
                headers={"Authorization": f"Basic {basic}"},
                retry_auth=False,
            )
        except Transient:
            raise
        except ConnectorError as exc:
            # invalid_grant / invalid_client: only a person re-authorising the app fixes it.
            raise ConfigError(
                "xero: the token endpoint refused the refresh token; re-authorise the app",
                http_status=exc.http_status,
                vendor_message=exc.vendor_message,
            ) from exc
        body = self.identity.json(response)
        try:
            access, refresh, lifetime = (
                body["access_token"],
                body["refresh_token"],
                float(body["expires_in"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"xero: token response lacks {exc}") from exc
        if isinstance(body.get("scope"), str):
            self.granted_scopes = frozenset(body["scope"].split())
        expires_at = self.clock.now() + timedelta(seconds=lifetime)
        return TokenSet(access, refresh, expires_at.isoformat())

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
