"""Rotating OAuth tokens in the store, encrypted at rest, refreshed under a row lock.

Implements :class:`connectors.tokens.TokenStore` over the ``credentials`` table. A rotation
locks the system's row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's transactions take the
write lock at ``BEGIN IMMEDIATE``), hands the stored tokens to the connector's refresh, and saves
what it returns in the same transaction, so exactly one process refreshes and every other one
finds the new tokens when it gets the lock.

The API host the vendor named with the tokens (Pipedrive's ``api_domain``) is kept beside them,
in the clear: it is no secret, and every process that loads the tokens must call that host.

Tokens are encrypted with Fernet (``cryptography``) under ``HANDOFF_SECRET_KEY``. Without that
variable a SQLite store keeps a generated key in a file beside the database (``<file>.key``,
owner-only); a PostgreSQL store refuses to keep tokens.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import ConfigError
from connectors.tokens import Refresh, TokenSaveFailed, TokenSet, TokenStore
from sync_core.store.db import session_factory
from sync_core.store.models import CredentialRow

SECRET_KEY_VARIABLE = "HANDOFF_SECRET_KEY"
_GENERATE = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


class TokenCipher:
    """Encrypts and decrypts token values with one Fernet key."""

    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                f"{SECRET_KEY_VARIABLE} is not a Fernet key (32 url-safe base64 bytes); "
                f"make one with {_GENERATE}"
            ) from None

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str) -> str:
        try:
            return self._fernet.decrypt(value.encode()).decode()
        except InvalidToken:
            raise ConfigError(
                f"the stored credentials do not open with this {SECRET_KEY_VARIABLE}: "
                "set the key they were saved with"
            ) from None


def cipher_for(secret_key: str | None, database_url: str | URL) -> TokenCipher:
    """The cipher for a store: ``secret_key``, else (SQLite only) the key file beside it."""
    if secret_key:
        return TokenCipher(secret_key)
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise ConfigError(
            f"{SECRET_KEY_VARIABLE} is not set: the store keeps OAuth tokens encrypted with it; "
            f"make one with {_GENERATE}"
        )
    if url.database in (None, "", ":memory:"):
        return TokenCipher(Fernet.generate_key())
    return TokenCipher(_key_file(Path(url.database).with_name(Path(url.database).name + ".key")))


def _key_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


class SqlTokenStore:
    """One system's tokens in the ``credentials`` table."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        system: str,
        cipher: TokenCipher,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self.system = system
        self._cipher = cipher
        self._now = now

    def load(self) -> TokenSet | None:
        with self._sessions() as session:
            row = session.get(CredentialRow, self.system)
            return self._decode(row) if row else None

    def seed(self, tokens: TokenSet) -> TokenSet:
        with self._sessions() as session:
            row = self._locked(session)
            if row is not None:
                return self._decode(row)
            session.add(self._write(CredentialRow(system=self.system, version=0), tokens))
            try:
                session.commit()
            except IntegrityError:
                pass  # another process seeded it first: theirs stands
            else:
                return tokens
        stored = self.load()
        assert stored is not None
        return stored

    def rotate(self, refresh: Refresh) -> TokenSet:
        with self._sessions() as session:
            row = self._locked(session)
            if row is None:
                raise ConfigError(f"{self.system}: no tokens stored to refresh")
            stored = self._decode(row)
            fresh = refresh(stored)
            if fresh is stored:
                return stored
            try:
                self._write(row, fresh)
                session.commit()
            except Exception as exc:
                raise TokenSaveFailed(fresh, exc) from exc
            return fresh

    def save(self, tokens: TokenSet) -> None:
        with self._sessions() as session:
            row = self._locked(session)
            if row is None:
                session.add(self._write(CredentialRow(system=self.system, version=0), tokens))
            else:
                self._write(row, tokens)
            session.commit()

    def _locked(self, session: Session) -> CredentialRow | None:
        # FOR UPDATE on PostgreSQL; SQLite already holds the write lock (BEGIN IMMEDIATE).
        return session.scalars(
            select(CredentialRow)
            .where(CredentialRow.system == self.system)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()

    def _write(self, row: CredentialRow, tokens: TokenSet) -> CredentialRow:
        row.access_token = self._cipher.encrypt(tokens.access_token)
        row.api_domain = tokens.api_domain
        row.refresh_token = self._cipher.encrypt(tokens.refresh_token)
        row.expires_at = datetime.fromisoformat(tokens.expires_at)
        row.version = (row.version or 0) + 1
        row.updated_at = self._now()
        return row

    def _decode(self, row: CredentialRow) -> TokenSet:
        return TokenSet(
            self._cipher.decrypt(row.access_token),
            self._cipher.decrypt(row.refresh_token),
            row.expires_at.isoformat(),
            row.api_domain,
        )


class SqlTokenStores:
    """A :class:`SqlTokenStore` per system over one engine; the key is resolved when the
    first store is asked for, so a map without rotating tokens needs none."""

    def __init__(
        self,
        engine: Engine,
        cipher: Callable[[], TokenCipher],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = session_factory(engine)
        self._make_cipher = cipher
        self._cipher: TokenCipher | None = None
        self._now = now

    def __call__(self, system: str) -> TokenStore:
        if self._cipher is None:
            self._cipher = self._make_cipher()
        return SqlTokenStore(self._sessions, system, self._cipher, self._now)
