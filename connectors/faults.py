"""Switchable faults for sandboxes: tests and the demo turn them on per system.

A :class:`FaultPlan` holds queued faults (each fires ``times`` times, optionally only on paths
containing ``path``). :func:`fault_middleware` applies the generic ones to any WSGI sandbox;
vendor-specific ones (a renamed response field, an expired token) are read by the sandbox
itself through :meth:`FaultPlan.take`.
"""

from __future__ import annotations

import contextlib
import json
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

GENERIC_FAULTS = (
    "server_error",
    "rate_limit",
    "timeout",
    "reset",
    "malformed_json",
    "timeout_after_write",
    "reset_after_write",
)
# The vendor performs the request, then its answer never arrives: the client cannot tell
# whether the write happened, which is how a blind re-send doubles a record.
AFTER_WRITE_FAULTS = ("timeout_after_write", "reset_after_write")
VENDOR_FAULTS = ("renamed_field", "expired_token")
ALL_FAULTS = GENERIC_FAULTS + VENDOR_FAULTS


@dataclass
class Fault:
    kind: str
    times: int = 1
    path: str | None = None
    method: str | None = None
    status: int = 503
    retry_after: float = 2.0
    delay: float = 2.0  # for timeouts: how long the sandbox stalls (real seconds)


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.fired: list[str] = []

    def add(self, kind: str, times: int = 1, **kwargs: Any) -> Fault:
        if kind not in ALL_FAULTS:
            raise ValueError(f"unknown fault {kind!r}; choose from {', '.join(ALL_FAULTS)}")
        fault = Fault(kind=kind, times=times, **kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(vars(fault)) for fault in self._faults]

    def take(self, kinds: Iterable[str], path: str = "", method: str = "") -> Fault | None:
        """The first armed fault of one of ``kinds`` matching the request, consumed once."""
        wanted = set(kinds)
        with self._lock:
            for fault in self._faults:
                if fault.kind not in wanted or fault.times <= 0:
                    continue
                if fault.path and fault.path not in path:
                    continue
                if fault.method and fault.method.upper() != method.upper():
                    continue
                fault.times -= 1
                self.fired.append(fault.kind)
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None


CONTROL_PATH = "/_sandbox/faults"  # outside every vendor's base path


def _control(
    plan: FaultPlan, environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    """Switch faults from outside the process (the demo, a curl): POST arms one
    (``{"kind": "server_error", "times": 3, "path": "/Contacts"}``), GET lists, DELETE clears."""
    method = environ.get("REQUEST_METHOD", "GET")
    status = "200 OK"
    answer: dict[str, Any] = {}
    try:
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
            plan.add(str(spec.pop("kind", "")), int(spec.pop("times", 1)), **spec)
        elif method == "DELETE":
            plan.clear()
        answer = {"armed": plan.armed()}
    except (ValueError, TypeError) as exc:
        status, answer = "400 Bad Request", {"error": str(exc)}
    body = json.dumps(answer).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def fault_middleware(app: Callable[..., Any], plan: FaultPlan) -> Callable[..., Any]:
    """Wrap a WSGI app so armed generic faults answer instead of it."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == CONTROL_PATH:
            return _control(plan, environ, start_response)
        fault = plan.take(GENERIC_FAULTS, path, method)
        if fault is None:
            result: Iterable[bytes] = app(environ, start_response)
            return result
        if fault.kind == "server_error":
            body = json.dumps({"error": "Service Unavailable", "status": fault.status}).encode()
            start_response(
                f"{fault.status} Error",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if fault.kind == "rate_limit":
            body = b'{"error": "Too Many Requests"}'
            start_response(
                "429 Too Many Requests",
                [
                    ("Content-Type", "application/json"),
                    ("Retry-After", str(int(fault.retry_after))),
                    ("Content-Length", str(len(body))),
                ],
            )
            return [body]
        if fault.kind == "timeout":
            time.sleep(fault.delay)
            result = app(environ, start_response)
            return result
        if fault.kind in AFTER_WRITE_FAULTS:
            return _after_write(app, fault, environ, start_response)
        if fault.kind == "reset":
            _drop_connection(environ)
        # malformed_json
        body = b'{"data": [ this is not json'
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return wrapped


def _drop_connection(environ: dict[str, Any]) -> None:
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        import socket

        # SO_LINGER 0 makes close() send RST; shutdown() first, because the server
        # still holds the socket and close() alone would leave the client waiting.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
    raise ConnectionResetError("fault: connection reset")


def _after_write(
    app: Callable[..., Any],
    fault: Fault,
    environ: dict[str, Any],
    start_response: Callable[..., Any],
) -> Iterable[bytes]:
    """Let the vendor do the work, then lose its answer: stall past the client's timeout
    (``timeout_after_write``) or drop the connection (``reset_after_write``)."""
    answer: list[Any] = []

    def keep(status: str, headers: list[tuple[str, str]], *args: Any) -> Callable[..., Any]:
        answer[:] = [status, headers]
        return lambda _data: None

    body = b"".join(app(environ, keep))
    if fault.kind == "reset_after_write":
        _drop_connection(environ)
    time.sleep(fault.delay)
    start_response(*answer)
    return [body]
