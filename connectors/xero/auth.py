"""OAuth2 for Xero: the kit's refresh (:mod:`connectors.oauth`) at Xero's token endpoint.

Xero hands out a new refresh token with every refresh and the old one stops working; every
process using the connection refreshes through one token store (see
:class:`connectors.tokens.RotatingAuth`), so none of them is left with a spent token.
"""

from __future__ import annotations

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
]

DEFAULT_TOKEN_URL = "https://identity.xero.com/connect/token"
