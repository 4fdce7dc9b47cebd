"""What a vendor's HTTP sandbox shares with the others: an injected clock, switchable faults
(:mod:`connectors.faults`), a log of every answer, and a WSGI app that turns the vendor's own
``_dispatch(request, headers) -> (status, body)`` into a JSON response.

A vendor's sandbox subclasses :class:`HttpSandbox`, sets ``state`` (its records, with
``to_state``/``from_state``) and writes ``_dispatch`` (a status and a body, or a whole
response); it overrides ``_response`` where the vendor answers other than with JSON, and
wraps ``wsgi_app`` where something must be counted around the faults too (Mailchimp's
simultaneous connections).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from connectors.clock import Clock, SystemClock
from connectors.faults import FaultPlan, fault_middleware
from connectors.serving import ServedApp, serve_wsgi

__all__ = ["HttpSandbox", "SandboxRecords"]


class SandboxRecords(Protocol):
    def to_state(self) -> dict[str, Any]: ...

    def from_state(self, state: dict[str, Any]) -> None: ...


class HttpSandbox:
    state: SandboxRecords

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self.faults = FaultPlan()
        self.log: list[tuple[str, str, int]] = []  # (method, path, status) for inspection
        self._lock = threading.Lock()
        self.wsgi_app: Callable[..., Iterable[bytes]] = fault_middleware(self._wsgi, self.faults)

    def serve(self) -> ServedApp:
        return serve_wsgi(self.wsgi_app)

    def count(self, status: int) -> int:
        """How many answers had ``status``."""
        return sum(1 for _, _, s in self.log if s == status)

    def to_state(self) -> dict[str, Any]:
        """The records, for a sandbox that outlives its process (rate-limit windows,
        connections, batches and webhook subscriptions start afresh)."""
        return self.state.to_state()

    def from_state(self, state: dict[str, Any]) -> None:
        self.state.from_state(state)

    # -------------------------------------------------------------------------------------

    def _dispatch(self, request: Request, headers: dict[str, str]) -> tuple[int, Any] | Response:
        """The vendor's answer to ``request``: its status and body (``headers`` to add), or a
        whole response where the vendor's answers are built as such."""
        raise NotImplementedError

    def _response(self, status: int, body: Any) -> Response:
        return Response(json.dumps(body), status=status, mimetype="application/json")

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        headers: dict[str, str] = {}
        answer = self._dispatch(request, headers)
        response = answer if isinstance(answer, Response) else self._response(*answer)
        self.log.append((request.method, request.path, response.status_code))
        response.headers.update(headers)
        result: Iterable[bytes] = response(environ, start_response)
        return result
