"""What ``handoff serve`` does with a request before any handler sees it.

A body is read only when it declares a length within the cap (no length, ``-1`` or chunked
gets 413 with nothing read), and only that many bytes are read; a request to ``/slack/events``
must carry a valid Slack signature before its body is parsed; and only so many requests are
served at once (503 beyond), so a flood of slow or huge requests cannot exhaust the process.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk.signature import SignatureVerifier

MAX_BODY_BYTES = 1_000_000
MAX_CONCURRENT = 32

Wsgi = Callable[[dict[str, Any], Any], Iterable[bytes]]


def _refuse(start_response: Any, status: str, text: str) -> list[bytes]:
    # The unread body stays on the socket: close the connection rather than parse it next.
    start_response(status, [("Content-Type", "text/plain"), ("Connection", "close")])
    return [text.encode() + b"\n"]


def declared_length(environ: dict[str, Any]) -> int | None:
    """The body's declared length, or None when it is missing, negative, chunked or garbage."""
    if "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
        return None
    raw = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not raw.isdigit():
        return None
    return int(raw)


class RequestGuard:
    """WSGI middleware: body cap, signature first on Slack's path, bounded concurrency."""

    def __init__(
        self,
        app: Wsgi,
        *,
        signing_secret: str | None = None,
        slack_path: str = "/slack/events",
        max_body: int = MAX_BODY_BYTES,
        max_concurrent: int = MAX_CONCURRENT,
    ) -> None:
        self.app = app
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.slack_path = slack_path
        self.max_body = max_body
        self._slots = threading.BoundedSemaphore(max_concurrent)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not self._slots.acquire(timeout=1.0):
            return _refuse(start_response, "503 Service Unavailable", "busy, try again")
        try:
            return list(self._guarded(environ, start_response))
        finally:
            self._slots.release()

    def _guarded(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            environ["wsgi.input"] = io.BytesIO(b"")
            return self.app(environ, start_response)
        length = declared_length(environ)
        if length is None:
            return _refuse(start_response, "413 Content Too Large", "a body needs its length")
        if length > self.max_body:
            return _refuse(
                start_response, "413 Content Too Large", f"at most {self.max_body} bytes"
            )
        body = environ["wsgi.input"].read(length) if length else b""
        if len(body) < length:
            return _refuse(start_response, "400 Bad Request", "the body ended early")
        slack = self.verifier is not None and environ.get("PATH_INFO") == self.slack_path
        if slack and not self._signed(environ, body):
            return _refuse(start_response, "401 Unauthorized", "invalid signature")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(length)
        return self.app(environ, start_response)

    def _signed(self, environ: dict[str, Any], body: bytes) -> bool:
        assert self.verifier is not None
        timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""))
        if not timestamp.isdigit():
            return False
        return self.verifier.is_valid(
            body=body, timestamp=timestamp, signature=str(environ.get("HTTP_X_SLACK_SIGNATURE", ""))
        )
