"""Which requests the shared HTTP layer may send again after a transport failure."""

from __future__ import annotations

import httpx
import pytest

from connectors.http import may_resend

READ_TIMEOUT = httpx.ReadTimeout("timed out")
RESET = httpx.ReadError("connection reset by peer")
DROPPED = httpx.RemoteProtocolError("server disconnected without sending a response")


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow")])
@pytest.mark.parametrize("method", ["POST", "PATCH", "GET"])
def test_nothing_was_sent_so_anything_may_go_again(exc: Exception, method: str) -> None:
    assert may_resend(exc, method, None)


@pytest.mark.parametrize("exc", [READ_TIMEOUT, RESET, DROPPED])
def test_a_sent_write_is_not_repeated_blindly(exc: Exception) -> None:
    assert not may_resend(exc, "POST", None)
    assert not may_resend(exc, "PATCH", {"Content-Type": "application/json"})


@pytest.mark.parametrize("exc", [READ_TIMEOUT, RESET, DROPPED])
def test_idempotent_methods_and_keyed_requests_may_go_again(exc: Exception) -> None:
    for method in ("GET", "HEAD", "PUT", "DELETE"):
        assert may_resend(exc, method, None)
    assert may_resend(exc, "POST", {"idempotency-key": "handoff-event-7"})


def test_other_errors_are_never_resent() -> None:
    assert not may_resend(ValueError("bad"), "GET", None)
