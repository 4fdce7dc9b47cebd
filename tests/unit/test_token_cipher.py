"""The key that encrypts stored OAuth tokens: from HANDOFF_SECRET_KEY, or beside a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from connectors.base import ConfigError
from sync_core.store.credentials import TokenCipher, cipher_for


def test_the_configured_key_encrypts_and_only_it_decrypts() -> None:
    key = Fernet.generate_key().decode()
    sealed = cipher_for(key, "postgresql+psycopg://h/db").encrypt("rt-secret")
    assert "rt-secret" not in sealed
    assert cipher_for(key, "sqlite:///x.db").decrypt(sealed) == "rt-secret"
    with pytest.raises(ConfigError, match="do not open with this HANDOFF_SECRET_KEY"):
        TokenCipher(Fernet.generate_key()).decrypt(sealed)


def test_postgresql_without_a_key_says_so_in_one_line() -> None:
    with pytest.raises(ConfigError) as raised:
        cipher_for(None, "postgresql+psycopg://postgres@127.0.0.1/handoff")
    message = str(raised.value)
    assert "HANDOFF_SECRET_KEY is not set" in message and "\n" not in message


def test_a_key_that_is_not_a_fernet_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a Fernet key"):
        cipher_for("hunter2", "sqlite:///x.db")


def test_sqlite_without_a_key_keeps_a_generated_one_beside_the_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'handoff.db'}"
    sealed = cipher_for(None, url).encrypt("rt-secret")
    key_file = tmp_path / "handoff.db.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert cipher_for(None, url).decrypt(sealed) == "rt-secret"  # the same key next time
