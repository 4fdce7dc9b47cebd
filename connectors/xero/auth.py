"""OAuth2 for Xero: the kit's refresh (:mod:`connectors.oauth`) at Xero's token endpoint.

Xero hands out a new refresh token with every refresh and the old one stops working; every
process using the connection refreshes through one token store (see
:class:`connectors.tokens.RotatingAuth`), so none of them is left with a spent token.
"""

from __future__ import annotations

from connectors.clock import Clock
from connectors.http import VendorHttp
from connectors.oauth import RefreshTokenAuth
from connectors.tokens import (
    EXPIRY_MARGIN,
    JsonFileTokenStore,
    MemoryTokenStore,
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


class XeroAuth(RefreshTokenAuth):
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
        super().__init__(
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
            store=store,
            identity=identity,
            token_path=token_path,
            clock=clock,
            system=system,
            client_auth="basic",
            seed=seed,
        )
