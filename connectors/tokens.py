"""Rotating OAuth tokens: the port a connector keeps them behind, and simple stores.

Some vendors (Xero; Pipedrive and Asana OAuth apps too) issue a new refresh token with every
refresh and spend the old one. Several processes sharing one connection must therefore refresh
one at a time and hand the new tokens to each other. A :class:`TokenStore` does that:
:meth:`TokenStore.rotate` runs the caller's refresh under the store's lock with the newest
stored tokens and saves what it returns before the lock is released.

:class:`RotatingAuth` is the client side: a vendor's OAuth auth subclasses it with the call
to its token endpoint (Xero's today; Pipedrive's and Asana's OAuth apps the same way). The
store behind the port lives outside the connectors (the service wires one over its database);
:class:`MemoryTokenStore` is the default for tests and fakes, and :class:`JsonFileTokenStore`
keeps one process's tokens in a file.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import structlog

from connectors.base import ConfigError, ConnectorError, Transient
from connectors.clock import Clock

log = structlog.get_logger("handoff.tokens")

# Refresh a little before expiry so a call never starts on a dying token.
EXPIRY_MARGIN = timedelta(seconds=60)


@dataclass
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: str  # ISO 8601, UTC
    # The API host the vendor named with these tokens (Pipedrive's ``api_domain``), as it
    # named it; no secret. Kept with them so every process that loads them calls that host.
    api_domain: str | None = None

    def expired(self, now: datetime) -> bool:
        return now + EXPIRY_MARGIN >= datetime.fromisoformat(self.expires_at)

    def __repr__(self) -> str:  # never show a token in a traceback or a log line
        return f"TokenSet(expires_at={self.expires_at!r})"


Refresh = Callable[[TokenSet], TokenSet]
"""Given the newest stored tokens, the tokens to use from now on (the same object when they
will do, new ones from the vendor otherwise)."""


class TokenSaveFailed(Exception):
    """The vendor issued ``tokens`` but the store could not keep them: hold them in memory
    and save them again later; the refresh token they replaced is spent."""

    def __init__(self, tokens: TokenSet, cause: BaseException) -> None:
        # the cause's class only: a driver's message may quote the statement's parameters
        super().__init__(f"the token store could not save new tokens ({type(cause).__name__})")
        self.tokens = tokens


class TokenStore(Protocol):
    """Where one system's rotating tokens live, shared by every process using it."""

    def seed(self, tokens: TokenSet) -> TokenSet:
        """Keep ``tokens`` unless tokens are already stored; return the stored ones."""
        ...

    def rotate(self, refresh: Refresh) -> TokenSet:
        """Under the store's lock, call ``refresh`` with the stored tokens and keep what it
        returns before the lock is released. Raises :class:`TokenSaveFailed` (carrying the
        new tokens) when they could not be saved; ``refresh``'s own errors pass through."""
        ...

    def save(self, tokens: TokenSet) -> None:
        """Store ``tokens`` (a retry of a save that failed); raises on failure."""
        ...


class _LockedStore:
    """Rotation for stores that one process owns: a thread lock around load and save."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def load(self) -> TokenSet | None:
        raise NotImplementedError

    def save(self, tokens: TokenSet) -> None:
        raise NotImplementedError

    def seed(self, tokens: TokenSet) -> TokenSet:
        with self._lock:
            stored = self.load()
            if stored is not None:
                return stored
            self.save(tokens)
            return tokens

    def rotate(self, refresh: Refresh) -> TokenSet:
        with self._lock:
            stored = self.load()
            if stored is None:
                raise ConfigError("no tokens stored to refresh: seed the store first")
            fresh = refresh(stored)
            if fresh is not stored:
                try:
                    self.save(fresh)
                except Exception as exc:
                    raise TokenSaveFailed(fresh, exc) from exc
            return fresh


class MemoryTokenStore(_LockedStore):
    def __init__(self, tokens: TokenSet | None = None) -> None:
        super().__init__()
        self.tokens = tokens
        self.saves = 0

    def load(self) -> TokenSet | None:
        return self.tokens

    def save(self, tokens: TokenSet) -> None:
        self.tokens = tokens
        self.saves += 1


class JsonFileTokenStore(_LockedStore):
    """Tokens in a JSON file readable by the owner only, replaced atomically."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)

    def load(self) -> TokenSet | None:
        if not self.path.exists():
            return None
        try:
            return TokenSet(**json.loads(self.path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"token file {self.path} is unreadable") from exc

    def save(self, tokens: TokenSet) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(tokens), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


class RotatingAuth:
    """An OAuth client's tokens, shared through a :class:`TokenStore`: refreshes on expiry or
    when the API refuses the access token, adopting what another process refreshed, and never
    giving up tokens the vendor issued (see :class:`TokenSaveFailed`). A vendor's subclass
    supplies :meth:`_exchange`, the call to its token endpoint."""

    def __init__(
        self,
        *,
        store: TokenStore,
        clock: Clock,
        initial: TokenSet,
        system: str,
        client_secret: str = "",
    ) -> None:
        self.store = store
        self.clock = clock
        self.system = system
        self.client_secret = client_secret
        self._lock = threading.Lock()
        # Stored tokens win over the initial ones (a token file, the configured refresh
        # token): those were spent by the first rotation.
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
            self.tokens = self.unsaved = self._spend(self.tokens)
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
            return self._spend(stored)

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

    def _spend(self, current: TokenSet) -> TokenSet:
        self._spending = current
        tokens = self._exchange(current)
        self.refreshes += 1
        return tokens

    def _exchange(self, current: TokenSet) -> TokenSet:
        """New tokens from the vendor for ``current``'s refresh token."""
        raise NotImplementedError


TokenStores = Callable[[str], TokenStore]
"""The wiring's source of shared token stores: one per system name."""
