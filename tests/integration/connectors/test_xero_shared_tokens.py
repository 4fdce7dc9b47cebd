"""Xero's rotating tokens shared by several connectors on one store, against the sandbox.

Each connector keeps its own tokens in memory, as two processes would; the store is the
database under test (SQLite or PostgreSQL), so the row lock is the real one.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import structlog
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select

from connectors.base import ConnectorSettings
from connectors.clock import FrozenClock
from connectors.http import ExchangeLog
from connectors.registry import ConnectorContext
from connectors.serving import ServedApp
from connectors.tokens import JsonFileTokenStore, MemoryTokenStore, TokenSet
from connectors.xero import XeroConnector, build
from connectors.xero.sandbox import XeroSandbox
from sync_core.store.credentials import SqlTokenStores, TokenCipher
from sync_core.store.db import session_factory
from sync_core.store.models import CredentialRow

Factory = Callable[..., XeroConnector]


@pytest.fixture
def sandbox(clock: FrozenClock) -> XeroSandbox:
    return XeroSandbox(clock)


@pytest.fixture
def served(sandbox: XeroSandbox) -> Iterator[ServedApp]:
    app = sandbox.serve()
    yield app
    app.shutdown()


@pytest.fixture
def stores(db: Engine, clock: FrozenClock) -> SqlTokenStores:
    key = Fernet.generate_key()
    return SqlTokenStores(db, lambda: TokenCipher(key), now=clock.now)


@pytest.fixture
def connector(
    sandbox: XeroSandbox, served: ServedApp, clock: FrozenClock, stores: SqlTokenStores
) -> Iterator[Factory]:
    built: list[XeroConnector] = []

    def make(*, log: ExchangeLog | None = None, **options: str) -> XeroConnector:
        settings = ConnectorSettings(
            system="xero",
            connector="xero",
            # the refresh token as configured, spent after one use
            credentials={**sandbox.credentials(), "refresh_token": "sandbox-refresh-0"},
            options=dict(options),
            base_url=served.url,
        )
        client = build(
            settings, ConnectorContext(clock=clock, exchange_log=log, token_stores=stores)
        )
        built.append(client)
        return client

    yield make
    for client in built:
        client.close()


def refresh_with(served: ServedApp, sandbox: XeroSandbox, refresh_token: str) -> httpx.Response:
    return httpx.post(
        f"{served.url}/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(sandbox.client_id, sandbox.client_secret),
    )


def test_the_sandbox_refuses_a_spent_refresh_token(sandbox: XeroSandbox, served: ServedApp) -> None:
    first = refresh_with(served, sandbox, sandbox.refresh_token)
    assert first.status_code == 200
    second = refresh_with(served, sandbox, first.json()["refresh_token"])
    assert second.status_code == 200
    # the token issued for it was used: the first refresh token is spent for good
    again = refresh_with(served, sandbox, "sandbox-refresh-0")
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
    assert refresh_with(served, sandbox, second.json()["refresh_token"]).status_code == 200


def test_a_refresh_whose_answer_was_lost_can_be_repeated_for_30_minutes(
    sandbox: XeroSandbox, served: ServedApp, clock: FrozenClock
) -> None:
    lost = refresh_with(served, sandbox, "sandbox-refresh-0")
    assert lost.status_code == 200
    clock.advance(timedelta(minutes=29))
    repeated = refresh_with(served, sandbox, "sandbox-refresh-0")
    assert repeated.status_code == 200
    # only the newest token issued is good now
    assert refresh_with(served, sandbox, lost.json()["refresh_token"]).status_code == 400
    clock.advance(timedelta(minutes=2))
    late = refresh_with(served, sandbox, "sandbox-refresh-0")
    assert late.status_code == 400 and late.json() == {"error": "invalid_grant"}


def test_two_connectors_on_one_store_refresh_once_per_expiry(
    connector: Factory, sandbox: XeroSandbox, clock: FrozenClock
) -> None:
    a, b = connector(), connector()
    a.list_changed("contact", None)
    b.list_changed("contact", None)
    assert sandbox.token_grants == 1  # b found a's tokens in the store
    for expiry in (2, 3, 4):
        clock.advance(31 * 60)
        b.list_changed("contact", None)
        a.list_changed("contact", None)
        assert sandbox.token_grants == expiry
    # Xero revokes the access token early: the 401 refreshes once, the other one adopts it.
    sandbox.expire_tokens()
    a.list_changed("contact", None)
    b.list_changed("contact", None)
    assert sandbox.token_grants == 5
    assert a.auth.tokens == b.auth.tokens
    assert a.auth.tokens.refresh_token == sandbox.refresh_token


def test_two_connectors_refreshing_at_once_make_one_refresh_call(
    connector: Factory, sandbox: XeroSandbox, clock: FrozenClock
) -> None:
    a, b = connector(), connector()
    a.list_changed("contact", None)
    b.list_changed("contact", None)
    for round_ in range(3):
        clock.advance(31 * 60)
        failures = poll_at_once(a, b)
        assert failures == []
        assert sandbox.token_grants == 2 + round_
    assert all(status != 400 for _, path, status in sandbox.calls if path == "/connect/token")


def poll_at_once(*connectors: XeroConnector) -> list[BaseException]:
    start = threading.Barrier(len(connectors))
    failures: list[BaseException] = []

    def poll(xero: XeroConnector) -> None:
        start.wait()
        try:
            xero.list_changed("contact", None)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=poll, args=(x,)) for x in connectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return failures


def test_the_stored_tokens_are_encrypted_and_versioned(
    connector: Factory, sandbox: XeroSandbox, clock: FrozenClock, db: Engine
) -> None:
    xero = connector()
    xero.list_changed("contact", None)
    clock.advance(31 * 60)
    xero.list_changed("contact", None)
    with session_factory(db)() as session:
        row = session.scalars(select(CredentialRow)).one()
        assert row.system == "xero" and row.version == 3  # seeded, then rotated twice
        assert sandbox.refresh_token not in row.refresh_token
        assert xero.auth.tokens.access_token not in row.access_token


def test_a_token_file_seeds_the_store_once(
    connector: Factory, sandbox: XeroSandbox, clock: FrozenClock, tmp_path: Path
) -> None:
    # Tokens a previous version kept in a file: the first rotation used the file's token.
    spent = refresh_with_current(sandbox)
    token_file = tmp_path / "xero-tokens.json"
    JsonFileTokenStore(token_file).save(spent)
    first = connector(token_file=str(token_file))
    first.list_changed("contact", None)
    assert sandbox.token_grants == 2
    # The file is stale now; a second process still takes the store's tokens.
    second = connector(token_file=str(token_file))
    second.list_changed("contact", None)
    assert sandbox.token_grants == 2
    assert second.auth.tokens.refresh_token == sandbox.refresh_token


def refresh_with_current(sandbox: XeroSandbox) -> TokenSet:
    """Spend the sandbox's refresh token by hand, as an older process would have; the
    returned set's access token is expired so it will be refreshed at once."""
    app = sandbox.serve()
    try:
        body = refresh_with(app, sandbox, sandbox.refresh_token).json()
    finally:
        app.shutdown()
    return TokenSet("", body["refresh_token"], sandbox.clock.now().isoformat())


class BrokenSaves(MemoryTokenStore):
    """A store that cannot write (a full disk, a read-only file) until mended."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = False

    def save(self, tokens: TokenSet) -> None:
        if self.broken:
            raise PermissionError("read-only")
        super().save(tokens)


def test_a_failed_save_keeps_the_issued_tokens_and_saves_them_later(
    sandbox: XeroSandbox, served: ServedApp, clock: FrozenClock, tmp_path: Path
) -> None:
    store = BrokenSaves()
    settings = sandbox.settings(served.url)
    log_path = tmp_path / "http.jsonl"
    context = ConnectorContext(clock=clock, exchange_log=ExchangeLog(log_path, clock))
    xero = build(settings, context, token_store=store)
    seeded = store.tokens
    store.broken = True
    with structlog.testing.capture_logs() as logged:
        xero.list_changed("contact", None)  # the first refresh: issued, not saved
        assert xero.auth.unsaved is not None
        assert store.tokens == seeded
        issued = xero.auth.tokens
        assert issued.refresh_token == sandbox.refresh_token
        xero.list_changed("contact", None)
        clock.advance(31 * 60)
        # still broken: the next refresh spends the token held in memory, not the stale one
        xero.list_changed("contact", None)
        assert sandbox.token_grants == 2
        assert all(status == 200 for _, path, status in sandbox.calls if path == "/connect/token")
        store.broken = False
        xero.list_changed("contact", None)
    assert xero.auth.unsaved is None
    assert store.tokens == xero.auth.tokens
    assert store.tokens is not None and store.tokens.refresh_token == sandbox.refresh_token
    assert any("kept" in entry["event"] for entry in logged)
    # Nothing written down anywhere holds a token.
    secrets = [issued.access_token, issued.refresh_token, sandbox.refresh_token]
    secrets += [*sandbox.access_tokens, seeded.refresh_token if seeded else ""]
    written = json.dumps(logged, default=str) + log_path.read_text()
    for secret in secrets:
        assert secret and secret not in written


def test_a_failed_database_save_keeps_the_tokens_and_logs_no_secret(
    connector: Factory,
    sandbox: XeroSandbox,
    stores: SqlTokenStores,
    db: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    xero = connector()
    broken = {"on": True}

    def refuse(session: Session) -> None:
        if broken["on"] and any(isinstance(o, CredentialRow) for o in session.dirty):
            raise RuntimeError("disk I/O error")

    event.listen(Session, "before_commit", refuse)
    caplog.set_level(logging.DEBUG)
    try:
        with structlog.testing.capture_logs() as logged:
            xero.list_changed("contact", None)
            assert xero.auth.unsaved is not None
            broken["on"] = False
            xero.list_changed("contact", None)
    finally:
        event.remove(Session, "before_commit", refuse)
    assert xero.auth.unsaved is None
    assert stores("xero").seed(TokenSet("", "", "2000-01-01T00:00:00+00:00")) == xero.auth.tokens
    assert sandbox.token_grants == 1
    written = json.dumps(logged, default=str) + caplog.text
    assert "kept" in written
    for secret in (xero.auth.tokens.access_token, xero.auth.tokens.refresh_token):
        assert secret not in written
