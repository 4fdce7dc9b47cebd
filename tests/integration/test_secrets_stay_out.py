"""A sync with faults leaves no configured secret anywhere: not on stderr (structlog and the
standard library, tracebacks included), not in the HTTP log, not in any text column of the
store, not in what was sent to Slack."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import JSON, String, Text, inspect, select

from bot.logs import RedactingHandler, configure_logging
from bot.serve import BotServer, build_server
from connectors.base import Connector, Permanent, Record, UpsertItem, UpsertResult
from sync_core.store.models import Base
from tests.e2e.fake_slack import FakeSlack
from tests.e2e.signing import SECRET
from tests.integration.test_fault_injection import demo_map  # noqa: F401  (fixture)


class LeakyVendor:
    """A vendor whose error messages repeat the credentials it was sent (some do)."""

    def __init__(self, inner: Connector, leaked: Callable[[], Sequence[str]]) -> None:
        self.inner = inner
        self.leaked = leaked

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _refuse(self) -> Permanent:
        leaked = self.leaked()
        return Permanent(
            f"xero: POST /Contacts → 400 (sent {leaked[0]})",
            http_status=400,
            vendor_message="invalid credentials: " + ", ".join(leaked),
        )

    def create(self, *args: Any, **kwargs: Any) -> Record:
        raise self._refuse()

    def update(self, *args: Any, **kwargs: Any) -> Record:
        raise self._refuse()

    def upsert_many(self, items: Sequence[UpsertItem]) -> list[UpsertResult]:
        raise self._refuse()


@pytest.fixture
def server(
    slack: FakeSlack,
    database_url: str,
    demo_map: Path,  # noqa: F811
    tmp_path: Path,
) -> Iterator[BotServer]:
    settings = slack.settings(demo_map, database_url, http_log=tmp_path / "http.jsonl")
    served = build_server(settings, host="127.0.0.1", port=0)
    yield served
    # Never started (no scheduler, no HTTP): only what was built is closed.
    served.http.server_close()
    served.runtime.close()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def logging_configured() -> Iterator[None]:
    """The CLI's log set-up binds the stderr of the test that makes it: undone after."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def stdlib_to_stderr() -> Iterator[logging.Logger]:
    """configure_logging's standard-library handler (pytest already owns the root)."""
    handler = RedactingHandler()
    logger = logging.getLogger("handoff.test.stdlib")
    logger.addHandler(handler)
    yield logger
    logger.removeHandler(handler)


def configured_secrets(server: BotServer, slack: FakeSlack) -> list[str]:
    xero: Any = server.runtime.connectors["xero"]
    values = [v for creds in server.runtime.credentials.values() for v in creds.values()]
    values += [*xero.auth.secrets(), xero.tenant_id, slack.token, SECRET]
    return sorted({v for v in values if v and len(v) >= 6})


def text_columns(server: BotServer) -> Iterator[str]:
    with server.runtime.db.connect() as connection:
        present = set(inspect(connection).get_table_names())
        for table in Base.metadata.sorted_tables:
            if table.name not in present:
                continue
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if not columns:
                continue
            for row in connection.execute(select(*columns)):
                yield from (str(v) for v in row if v is not None)


def test_a_run_with_faults_leaves_no_secret_anywhere(
    server: BotServer,
    slack: FakeSlack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    logging_configured: None,
    stdlib_to_stderr: logging.Logger,
) -> None:
    configure_logging({"HANDOFF_LOG_LEVEL": "INFO"})
    rt = server.runtime
    secrets = configured_secrets(server, slack)
    assert len(secrets) >= 6, secrets
    xero_sandbox = rt.sandboxes["xero"].demo.sandbox
    xero_sandbox.faults.add("server_error", times=3, path="/Contacts")
    rt.engine.connectors["xero"] = LeakyVendor(
        rt.connectors["xero"], lambda: configured_secrets(server, slack)
    )
    rt.engine.sync_once()  # the token is fetched and used; calls fail, writes are refused
    live = configured_secrets(server, slack)
    assert any(secret.startswith("at-") for secret in live)  # Xero's access token among them

    # A job that fails with secrets in its locals, logged both ways.
    def poll_job(access_token: str, credentials: Mapping[str, str]) -> None:
        raise RuntimeError(f"poll failed with {access_token}")

    try:
        poll_job(live[0], rt.credentials["xero"])
    except RuntimeError:
        structlog.get_logger("handoff.test").exception("poll job failed", token_used=live[-1])
        stdlib_to_stderr.exception("job raised (%s)", live[1])
    assert server.alert_sender is not None  # the scheduler's job on the leader, run here
    assert server.alert_sender.drain()  # every alert in the outbox posted and recorded
    slack.wait_call("chat.postMessage", timeout=20)  # the alerts went out

    out = capsys.readouterr()
    written = {
        "stderr": out.err + out.out,
        "http log": (tmp_path / "http.jsonl").read_text(),
        "database": "\n".join(text_columns(server)),
        "slack": "\n".join(str(c.body) for c in slack.calls),
    }
    assert "poll job failed" in written["stderr"] and "Traceback" in written["stderr"]
    assert "[REDACTED]" in written["database"]  # the leaky vendor's messages were kept, masked
    assert "poll_job" in written["stderr"] and "credentials = " not in written["stderr"]
    leaks = [
        (where, secret[:4] + "…")
        for where, text in written.items()
        for secret in live
        if secret in text
    ]
    assert not leaks, leaks
