"""OAuth2 for Xero: refresh-token rotation shared by every process through a token store.

Xero hands out a new refresh token with every refresh and the old one stops working. Each
refresh therefore runs under the token store's lock with the newest stored refresh token, and
the new tokens are saved before the lock is released: a second process waiting on the lock
finds them and uses them instead of refreshing with a spent token. When the save fails the
new tokens are kept in memory (the refresh token they replaced is spent) and saved again on
the next call; they are never given up for the stale ones in the store.
"""

from __future__ import annotations

import base64
import threading
from datetime import timedelta

import httpx
import structlog

from connectors.base import ConfigError, ConnectorError, Transient
from connectors.clock import Clock
from connectors.http import VendorHttp
from connectors.tokens import (
    EXPIRY_MARGIN,
    JsonFileTokenStore,
    MemoryTokenStore,
    TokenSaveFailed,
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

log = structlog.get_logger("handoff.xero.auth")


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
        seed: TokenSet | None = None,
        system: str = "xero",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.store = store
        self.identity = identity
        self.token_path = token_path
        self.clock = clock
        self.system = system
        self._lock = threading.Lock()
        # Stored tokens win over the seed (a token file) and the configured refresh token:
        # those were spent by the first rotation.
        initial = seed or TokenSet("", refresh_token, self.clock.now().isoformat())
        self.tokens = store.seed(initial)
        # tokens the vendor issued that the store has not kept yet
        self.unsaved: TokenSet | None = None
        # the last tokens a refresh spent (another process's, maybe): redacted too
        self._spending: TokenSet | None = None
        self.refreshes = 0

    def secrets(self) -> list[str]:
        held = [self.tokens, self._spending]
        return [self.client_secret] + [
            value for t in held if t is not None for value in (t.access_token, t.refresh_token)
        ]

    def access_token(self) -> str:
        with self._lock:
            self._save_unsaved()
            if not self.tokens.access_token or self.tokens.expired(self.clock.now()):
                self._refresh(rejected=None)
            return self.tokens.access_token

    def force_refresh(self, rejected: str) -> None:
        """The API refused ``rejected``; refresh unless another call already did."""
        with self._lock:
            self._save_unsaved()
            if self.tokens.access_token == rejected:
                self._refresh(rejected=rejected)

    def _refresh(self, *, rejected: str | None) -> None:
        if self.unsaved is not None:
            # The store still holds a spent refresh token: rotate with the one we hold.
            self.tokens = self.unsaved = self._exchange(self.tokens)
            self._save_unsaved()
            return
        held = self.tokens

        def refresh(stored: TokenSet) -> TokenSet:
            # Another process rotated while we waited for the lock: use its tokens.
            if (
                stored.access_token
                and stored.access_token not in (held.access_token, rejected)
                and not stored.expired(self.clock.now())
            ):
                return stored
            return self._exchange(stored)

        try:
            self.tokens = self.store.rotate(refresh)
        except TokenSaveFailed as exc:
            self.tokens = self.unsaved = exc.tokens
            log.warning(
                "kept new tokens in memory; saving again on the next call",
                system=self.system,
                error=str(exc),
            )
        except ConnectorError:
            raise
        except Exception as exc:
            # No lock, no refresh: spending a token the store still shares would lock the
            # other processes out.
            raise Transient(
                f"{self.system}: the token store is unavailable ({type(exc).__name__})"
            ) from exc

    def _save_unsaved(self) -> None:
        if self.unsaved is None:
            return
        try:
            self.store.save(self.unsaved)
        except Exception as exc:
            log.warning(
                "the token store could not save new tokens; kept in memory",
                system=self.system,
                error=type(exc).__name__,
            )
            return
        self.unsaved = None

    def _exchange(self, current: TokenSet) -> TokenSet:
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        self._spending = current
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
        self.refreshes += 1
        expires_at = self.clock.now() + timedelta(seconds=lifetime)
        return TokenSet(access, refresh, expires_at.isoformat())

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
