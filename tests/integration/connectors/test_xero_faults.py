"""Xero faults and limits: each sandbox fault ends as the error class the engine expects, and
the client keeps to Xero's rate limits on a frozen clock without the sandbox refusing it."""

from __future__ import annotations

import pytest

from connectors.base import AuthExpired, SchemaChanged, Transient
from connectors.clock import FrozenClock
from connectors.exchange_audit import recording_exchanges
from connectors.xero.sandbox import XeroSandbox
from tests.support.contract import RecordingTransport

from . import test_xero as contract

# The contract tests' fixtures, shared (pytest finds fixtures by module attribute).
clock = contract.clock
sandbox = contract.sandbox
served = contract.served
transport = contract.transport
connector = contract.connector
Factory = contract.Factory
item = contract.item

pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type")


def statuses(transport: RecordingTransport) -> list[int]:
    return [e.response.status_code for e in transport.exchanges]


def test_server_error_is_transient(connector: Factory, sandbox: XeroSandbox) -> None:
    xero = connector()
    xero.list_changed("contact", None)  # token first, so the fault hits the API call
    sandbox.faults.add("server_error", path="/Contacts")
    with pytest.raises(Transient) as caught:
        xero.list_changed("contact", None)
    assert caught.value.http_status == 503


def test_rate_limit_waits_then_succeeds(
    connector: Factory, sandbox: XeroSandbox, clock: FrozenClock
) -> None:
    sandbox.add_contact(Name="Acme", ContactNumber="PD-1")
    xero = connector()
    sandbox.faults.add("rate_limit", path="/Contacts", retry_after=7)
    with recording_exchanges() as seen:
        page = xero.list_changed("contact", None)
    assert [r.fields["Name"] for r in page.records] == ["Acme"]
    assert seen.waits == [7.0]
    assert 7.0 in clock.slept


def test_timeout_is_transient(connector: Factory, sandbox: XeroSandbox) -> None:
    xero = connector(timeout=0.3)
    xero.list_changed("contact", None)
    # Three attempts: VendorHttp retries connection-level failures briefly itself.
    sandbox.faults.add("timeout", times=3, path="/Contacts", delay=0.6)
    with pytest.raises(Transient, match="timed out"):
        xero.list_changed("contact", None)


def test_connection_reset_is_transient(connector: Factory, sandbox: XeroSandbox) -> None:
    # The shared reset fault closes a socket werkzeug still holds, so the client may see a
    # stalled read rather than a reset; a short timeout keeps the test fast either way.
    xero = connector(timeout=0.5)
    xero.list_changed("contact", None)
    sandbox.faults.add("reset", times=3, path="/Contacts")
    with pytest.raises(Transient):
        xero.list_changed("contact", None)


def test_malformed_json_is_schema_changed(connector: Factory, sandbox: XeroSandbox) -> None:
    xero = connector()
    xero.list_changed("contact", None)
    sandbox.faults.add("malformed_json", path="/Contacts")
    with pytest.raises(SchemaChanged, match="not valid JSON"):
        xero.list_changed("contact", None)


def test_renamed_field_is_schema_changed_naming_the_key(
    connector: Factory, sandbox: XeroSandbox
) -> None:
    sandbox.add_contact(Name="Acme", ContactNumber="PD-1")
    xero = connector()
    sandbox.faults.add("renamed_field", path="/Contacts")
    with pytest.raises(SchemaChanged, match="'ContactID'"):
        xero.list_changed("contact", None)
    # A batch write whose answer lost the id fails the whole batch, item by item.
    sandbox.faults.add("renamed_field", path="/Contacts", method="PUT")
    (result,) = xero.upsert_many([item("PD-2", "Globex")])
    assert isinstance(result.error, SchemaChanged)


def test_expired_token_is_refreshed_once_and_retried(
    connector: Factory, sandbox: XeroSandbox, transport: RecordingTransport
) -> None:
    xero = connector()
    xero.list_changed("contact", None)
    sandbox.faults.add("expired_token", path="/Contacts")
    xero.list_changed("contact", None)
    assert sandbox.token_grants == 2
    assert statuses(transport)[-3:] == [401, 200, 200]


def test_token_refused_after_refresh_is_auth_expired(
    connector: Factory, sandbox: XeroSandbox
) -> None:
    xero = connector()
    xero.list_changed("contact", None)
    sandbox.faults.add("expired_token", times=2, path="/Contacts")
    with pytest.raises(AuthExpired):
        xero.list_changed("contact", None)
    assert sandbox.token_grants == 2  # refreshed once, not in a loop


# -- rate limits -----------------------------------------------------------------------------


def test_burst_is_paced_below_xeros_minute_limit(
    connector: Factory, sandbox: XeroSandbox, clock: FrozenClock, transport: RecordingTransport
) -> None:
    seeded = sandbox.add_contact(Name="Acme", ContactNumber="PD-1")
    xero = connector()
    started = clock.monotonic()
    with recording_exchanges() as seen:
        for _ in range(150):
            xero.get("contact", seeded["ContactID"])
    assert sandbox.limits.refused == 0
    assert 429 not in statuses(transport)
    # 150 calls at 60 a minute: the last one waits for the third minute.
    assert clock.monotonic() - started == pytest.approx(120.0)
    assert sum(seen.waits) == pytest.approx(120.0)
    assert xero.remaining.remaining["X-DayLimit-Remaining"] == 5000 - 150


def test_budget_spent_elsewhere_pauses_on_remaining_zero(
    connector: Factory, sandbox: XeroSandbox, clock: FrozenClock, transport: RecordingTransport
) -> None:
    """Another app on the same tenant used 58 calls: our limiter cannot know, but Xero's
    X-MinLimit-Remaining reaches 0 and the client waits instead of collecting a 429."""
    seeded = sandbox.add_contact(Name="Acme", ContactNumber="PD-1")
    xero = connector()
    minute = sandbox.limits.windows["minute"][2]
    minute.extend([clock.monotonic()] * 58)
    with recording_exchanges() as seen:
        for _ in range(3):
            xero.get("contact", seeded["ContactID"])
    assert sandbox.limits.refused == 0
    assert 429 not in statuses(transport)
    assert seen.waits == [60.0]


def test_sandbox_refuses_over_the_limit_with_xeros_headers(
    connector: Factory, sandbox: XeroSandbox, clock: FrozenClock, transport: RecordingTransport
) -> None:
    seeded = sandbox.add_contact(Name="Acme", ContactNumber="PD-1")
    xero = connector()
    with recording_exchanges() as seen:
        xero.get("contact", seeded["ContactID"])
        clock.advance(10)
        sandbox.limits.windows["minute"][2].extend([clock.monotonic()] * 59)  # spent elsewhere
        xero.get("contact", seeded["ContactID"])  # waits through Xero's 429, then succeeds
    refused = [e.response for e in transport.exchanges if e.response.status_code == 429]
    assert len(refused) == 1
    assert refused[0].headers["X-Rate-Limit-Problem"] == "minute"
    assert refused[0].headers["Retry-After"] == "50"
    assert seen.waits == [50.0]
