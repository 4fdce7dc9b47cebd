"""Pipedrive under failure: faults sorted into the right error class, rate limits respected
before the vendor has to refuse, and no credential in the exchange log."""

# The fixtures are imported from test_pipedrive.py; pytest injects them by parameter name.
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import AuthExpired, Permanent, RateLimited, SchemaChanged, Transient
from connectors.clock import FrozenClock
from connectors.exchange_audit import recording_exchanges
from connectors.http import ExchangeLog
from connectors.pipedrive import PipedriveConnector
from connectors.pipedrive.sandbox import PipedriveSandbox
from tests.integration.connectors.test_pipedrive import (  # noqa: F401 - fixtures
    ACCESS_TOKEN,
    API_TOKEN,
    HANDOFF_ID,
    Harness,
    clock,
    harness,
    pd,
    sandbox,
    seed_deals,
    served,
)

# -- faults --------------------------------------------------------------------------------


def test_server_error_is_transient(pd: PipedriveConnector, sandbox: PipedriveSandbox) -> None:
    sandbox.faults.add("server_error", status=502)
    with pytest.raises(Transient) as caught:
        pd.list_changed("deal", None)
    assert caught.value.http_status == 502
    assert pd.list_changed("deal", None).records == []  # and it passes


def test_a_429_is_waited_through_on_the_clock(
    pd: PipedriveConnector, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    seed_deals(sandbox, clock, 1)
    sandbox.faults.add("rate_limit", retry_after=3)
    before = clock.now()
    with recording_exchanges() as seen:
        assert len(pd.list_changed("deal", None).records) == 1
    assert 3.0 in seen.waits
    assert (clock.now() - before).total_seconds() >= 3


def test_timeout_is_transient(harness: Harness, sandbox: PipedriveSandbox) -> None:
    connector = harness.connector(timeout=0.1)
    sandbox.faults.add("timeout", times=3, delay=0.4)  # every in-call retry times out
    with pytest.raises(Transient, match="timed out"):
        connector.get("deal", "1")


def test_connection_reset_is_transient(pd: PipedriveConnector, sandbox: PipedriveSandbox) -> None:
    sandbox.faults.add("reset", times=3)
    with pytest.raises(Transient, match="failed"):  # a dropped connection, not a timeout
        pd.list_changed("deal", None)


def test_malformed_json_is_a_schema_change(
    harness: Harness, pd: PipedriveConnector, sandbox: PipedriveSandbox
) -> None:
    sandbox.faults.add("malformed_json")
    harness.skip_next()  # that body breaks the spec on purpose
    with pytest.raises(SchemaChanged, match="not valid JSON"):
        pd.list_changed("deal", None)


def test_a_renamed_field_is_a_schema_change_naming_it(
    pd: PipedriveConnector, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    seed_deals(sandbox, clock, 1)
    sandbox.faults.add("renamed_field", path="/api/v2/deals")
    with pytest.raises(SchemaChanged, match="update_time"):
        pd.list_changed("deal", None)


def test_expired_oauth_token_is_auth_expired(harness: Harness, sandbox: PipedriveSandbox) -> None:
    connector = harness.connector(credentials={"access_token": ACCESS_TOKEN})
    assert connector.list_changed("deal", None).records == []
    sandbox.faults.add("expired_token")
    with pytest.raises(AuthExpired):
        connector.list_changed("deal", None)


def test_a_rejected_api_token_is_permanent_with_the_vendor_message(
    harness: Harness, sandbox: PipedriveSandbox
) -> None:
    # An api_token cannot be refreshed: retrying will not help until someone replaces it.
    wrong = harness.connector(credentials={"api_token": "not-the-token"})
    with pytest.raises(Permanent) as caught:
        wrong.list_changed("deal", None)
    assert not isinstance(caught.value, AuthExpired)
    assert caught.value.http_status == 401 and "unauthorized access" in str(caught.value)
    sandbox.faults.add("expired_token")
    with pytest.raises(Permanent):
        harness.connector().get("deal", "1")


def test_a_vendor_validation_error_keeps_its_message(
    pd: PipedriveConnector, sandbox: PipedriveSandbox
) -> None:
    with pytest.raises(Permanent, match="status must be open, won or lost"):
        pd.create("deal", {"title": "X", "status": "maybe"}, id_field=HANDOFF_ID, canonical_id="H")
    with pytest.raises(Permanent) as caught:
        pd.get("deal", "404")
    assert caught.value.http_status == 404


# -- rate limits ---------------------------------------------------------------------------


def test_a_burst_is_paced_by_the_client_and_never_refused(
    pd: PipedriveConnector, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    (deal_id,) = seed_deals(sandbox, clock, 1)
    before = clock.now()
    with recording_exchanges() as seen:
        for _ in range(45):
            pd.get("deal", str(deal_id))
    assert sandbox.count(429) == 0
    assert (clock.now() - before).total_seconds() >= 4  # 45 calls at 20 per 2 s
    assert seen.waits


def test_the_rate_limit_headers_pause_the_client(
    harness: Harness, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    # The map claims a bigger plan than the account has: the headers keep us out of 429s.
    connector = harness.connector(rate_limit_per_2s=100)
    (deal_id,) = seed_deals(sandbox, clock, 1)
    for _ in range(30):
        connector.get("deal", str(deal_id))
    assert sandbox.count(429) == 0
    assert connector.session.limiter.limits["burst"]._blocked_until > 0


def test_searches_keep_to_their_own_window(
    pd: PipedriveConnector, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    seed_deals(sandbox, clock, 1)
    for _ in range(15):
        assert pd.find_by_canonical_id("deal", HANDOFF_ID, "HO-0") is not None
    assert sandbox.count(429) == 0


def test_without_the_client_limiter_the_sandbox_refuses(
    harness: Harness, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    # The sandbox enforces the window itself; the client then waits through Retry-After.
    connector = harness.connector(rate_limit_per_2s=1000)
    connector.session.http._on_response = None  # blind to the headers
    (deal_id,) = seed_deals(sandbox, clock, 1)
    with recording_exchanges() as seen:
        for _ in range(25):
            connector.get("deal", str(deal_id))
    assert sandbox.count(429) >= 1
    assert seen.waits


def test_the_daily_write_budget_stops_writes_without_a_request(
    harness: Harness, clock: FrozenClock, served: object, sandbox: PipedriveSandbox
) -> None:
    sandbox.daily_writes = 2  # creating the "Handoff ID" field is a POST too
    connector = harness.connector()
    connector.create("deal", {"title": "One"}, id_field=HANDOFF_ID, canonical_id="D-1")
    sent = len(harness.transport.exchanges)
    with pytest.raises(RateLimited) as caught:
        connector.update("deal", "1", {"title": "Two"})
    assert len(harness.transport.exchanges) == sent
    assert caught.value.retry_after and 0 < caught.value.retry_after <= 86400


# -- secrets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [{"api_token": API_TOKEN}, {"access_token": ACCESS_TOKEN}],
    ids=["api_token", "access_token"],
)
def test_no_credential_reaches_the_exchange_log(
    harness: Harness,
    sandbox: PipedriveSandbox,
    clock: FrozenClock,
    tmp_path: Path,
    credentials: dict[str, str],
) -> None:
    log_path = tmp_path / "http.jsonl"
    connector = harness.connector(
        credentials=credentials, exchange_log=ExchangeLog(log_path, clock)
    )
    seed_deals(sandbox, clock, 2)
    connector.list_changed("deal", None)
    connector.create("deal", {"title": "Logged"}, id_field=HANDOFF_ID, canonical_id="L-1")
    sandbox.faults.add("expired_token")
    with pytest.raises((Permanent, AuthExpired)):  # the 401 body is logged too
        connector.list_changed("deal", None)
    text = log_path.read_text()
    assert text.count("\n") >= 4
    assert API_TOKEN not in text and ACCESS_TOKEN not in text
