"""Oversized, unsized, unsigned and malformed requests against ``handoff serve``: each is
refused without reading more than the cap, and a flood cannot take every thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from bot.http_guard import RequestGuard
from connectors.serving import ServedApp, serve_wsgi
from tests.e2e.fake_slack import FakeSlack
from tests.e2e.signing import SECRET, SlackSender
from tests.e2e.test_webhooks import server, webhook_map  # noqa: F401  (fixtures)

CAP = 1000


class CountingInput:
    """The request body as the server reads it, counting every byte taken."""

    def __init__(self, inner: Any, counter: list[int]) -> None:
        self.inner = inner
        self.counter = counter

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.inner.read(size)
        self.counter[0] += len(data)
        return data


@pytest.fixture
def guarded() -> Iterator[tuple[ServedApp, list[int], list[bytes]]]:
    read = [0]
    seen: list[bytes] = []
    release = threading.Event()

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read()
        seen.append(body)
        if body == b"slow":
            release.wait(5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    guard = RequestGuard(inner, signing_secret=SECRET, max_body=CAP, max_concurrent=2)

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.input"] = CountingInput(environ["wsgi.input"], read)
        return guard(environ, start_response)

    served = serve_wsgi(counting)
    served.release = release  # type: ignore[attr-defined]
    yield served, read, seen
    release.set()
    served.shutdown()


def raw_request(url: str, path: str, headers: dict[str, str], sent: bytes) -> str:
    """Send the head and part of a body, then read the status line while still sending."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode() + sent)
        answer = sock.recv(4096).decode(errors="replace")
    return answer.split("\r\n", 1)[0]


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Length": "-1"},
        {"Content-Length": "200000000"},
        {"Transfer-Encoding": "chunked"},
        {},
        {"Content-Length": "abc"},
    ],
    ids=["minus-one", "200MB", "chunked", "no-length", "garbage"],
)
def test_unsized_and_oversized_bodies_get_413_unread(
    guarded: tuple[ServedApp, list[int], list[bytes]], headers: dict[str, str]
) -> None:
    served, read, seen = guarded
    started = time.monotonic()

    status = raw_request(served.url, "/webhooks/pipedrive", headers, b"x" * 50_000)

    assert " 413 " in status
    assert time.monotonic() - started < 3
    assert read[0] == 0 and not seen


def test_a_body_within_the_cap_is_read_once_and_passed_on(
    guarded: tuple[ServedApp, list[int], list[bytes]],
) -> None:
    served, read, seen = guarded

    answer = httpx.post(served.url + "/webhooks/pipedrive", content=b"x" * CAP)

    assert answer.status_code == 200
    assert seen == [b"x" * CAP] and read[0] == CAP
    assert httpx.post(served.url + "/webhooks/x", content=b"x" * (CAP + 1)).status_code == 413


def test_slack_requests_are_verified_before_anything_parses_them(
    guarded: tuple[ServedApp, list[int], list[bytes]],
) -> None:
    served, _read, seen = guarded
    unsigned = httpx.post(served.url + "/slack/events", content=b"payload=%7Bnot json")
    forged = httpx.post(
        served.url + "/slack/events",
        content=b"{}",
        headers={"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
    )
    sender = SlackSender(served.url + "/slack/events", "http://127.0.0.1:9/")
    try:
        signed = sender.post("{}")
    finally:
        sender.close()

    assert unsigned.status_code == 401 and forged.status_code == 401
    assert signed.status_code == 200 and seen == [b"{}"]


def test_requests_beyond_the_concurrency_bound_are_turned_away(
    guarded: tuple[ServedApp, list[int], list[bytes]],
) -> None:
    served, _read, seen = guarded
    slow = [
        threading.Thread(
            target=httpx.post, args=(served.url + "/webhooks/x",), kwargs={"content": b"slow"}
        )
        for _ in range(2)
    ]
    for thread in slow:
        thread.start()
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    busy = httpx.post(served.url + "/webhooks/x", content=b"quick", timeout=5)

    assert busy.status_code == 503
    served.release.set()  # type: ignore[attr-defined]
    for thread in slow:
        thread.join(5)
    assert httpx.post(served.url + "/webhooks/x", content=b"quick").status_code == 200


def test_handoff_serve_refuses_unsized_bodies_on_both_paths(
    server: Any,  # noqa: F811
    slack: FakeSlack,
) -> None:
    for path in ("/webhooks/pipedrive", "/slack/events"):
        status = raw_request(server.url, path, {"Content-Length": "-1"}, b"x" * 100_000)
        assert " 413 " in status, path
    malformed = httpx.post(server.url + "/webhooks/pipedrive", content=b"{not json")
    assert malformed.status_code == 401  # credentials first, then the body
    assert not [c for c in slack.calls if c.method not in ("auth.test", "usergroups.list")]
