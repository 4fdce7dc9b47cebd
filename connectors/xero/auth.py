"""OAuth2 for Xero: refresh-token rotation with the new token stored before it is used.

Xero hands out a new refresh token with every refresh and the old one stops working, so a
crash between receiving and saving it would lock the connection out. The store is therefore
written before the new access token is used for anything.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import httpx

from connectors.base import ConfigError, ConnectorError, Transient
from connectors.clock import Clock
from connectors.http import VendorHttp

DEFAULT_TOKEN_URL = "https://identity.xero.com/connect/token"
# Refresh a little before Xero's 30-minute expiry so a call never starts on a dying token.
EXPIRY_MARGIN = timedelta(seconds=60)


@dataclass
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: str  # ISO 8601, UTC

    def expired(self, now: datetime) -> bool:
        return now + EXPIRY_MARGIN >= datetime.fromisoformat(self.expires_at)


class TokenStore(Protocol):
    def load(self) -> TokenSet | None: ...

    def save(self, tokens: TokenSet) -> None: ...


class MemoryTokenStore:
    def __init__(self, tokens: TokenSet | None = None) -> None:
        self.tokens = tokens
        self.saves = 0

    def load(self) -> TokenSet | None:
        return self.tokens

    def save(self, tokens: TokenSet) -> None:
        self.tokens = tokens
        self.saves += 1


class JsonFileTokenStore:
    """Tokens in a JSON file readable by the owner only, replaced atomically."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> TokenSet | None:
        if not self.path.exists():
            return None
        try:
            return TokenSet(**json.loads(self.path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"xero: token file {self.path} is unreadable") from exc

    def save(self, tokens: TokenSet) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(tokens), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


class XeroAuth:
    """Holds the current access token; refreshes it on expiry or when the API says 401."""

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
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.store = store
        self.identity = identity
        self.token_path = token_path
        self.clock = clock
        self._lock = threading.Lock()
        stored = store.load()
        # A stored refresh token is newer than the configured one: the configured one was
        # spent by the first rotation.
        self.tokens = stored or TokenSet("", refresh_token, self.clock.now().isoformat())
        self.refreshes = 0

    def secrets(self) -> list[str]:
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return [self.client_secret, basic, self.tokens.access_token, self.tokens.refresh_token]

    def access_token(self) -> str:
        with self._lock:
            if not self.tokens.access_token or self.tokens.expired(self.clock.now()):
                self._refresh()
            return self.tokens.access_token

    def force_refresh(self, rejected: str) -> None:
        """The API refused ``rejected``; refresh unless another call already did."""
        with self._lock:
            if self.tokens.access_token == rejected:
                self._refresh()

    def _refresh(self) -> None:
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        try:
            response = self.identity.request(
                "POST",
                self.token_path,
                data={"grant_type": "refresh_token", "refresh_token": self.tokens.refresh_token},
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
        expires_at = self.clock.now() + timedelta(seconds=lifetime)
        tokens = TokenSet(access, refresh, expires_at.isoformat())
        self.store.save(tokens)  # before first use: the old refresh token is now dead
        self.tokens = tokens
        self.refreshes += 1

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
