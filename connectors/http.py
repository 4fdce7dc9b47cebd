"""The HTTP layer every vendor client shares: rate limiting, short in-call retries, error
classification, and the exchange log (``HANDOFF_HTTP_LOG``) with credentials redacted."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import tenacity

from connectors.base import (
    AuthExpired,
    ConnectorError,
    Permanent,
    RateLimited,
    SchemaChanged,
    Transient,
)
from connectors.clock import Clock
from connectors.exchange_audit import note_exchange, note_wait
from connectors.ratelimit import RateLimiter
from connectors.redaction import (
    KNOWN_SECRETS,
    redact_body,
    redact_headers,
    redact_text,
    redact_url,
)

MAX_429_WAITS = 8
MAX_RETRY_AFTER = 120.0
# Methods the HTTP semantics make safe to send twice (RFC 9110 §9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Failures before the request left us: the vendor cannot have acted on it.
NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def may_resend(exc: BaseException, method: str, headers: Mapping[str, str] | None) -> bool:
    """Whether a request that failed in transport may be sent again at once.

    A connection that never opened sent nothing, so any request may go again. Once the request
    was sent (a read timeout, a reset, a dropped connection) the vendor may already have acted
    on it: only an idempotent method or a request carrying the vendor's idempotency key can be
    repeated blindly. Anything else surfaces as :class:`Transient`, and the next attempt looks
    the record up by its canonical ID before writing again."""
    if not isinstance(exc, httpx.TransportError):
        return False
    if isinstance(exc, NOTHING_SENT):
        return True
    if method.upper() in IDEMPOTENT_METHODS:
        return True
    return any(name.lower() == IDEMPOTENCY_HEADER.lower() for name in headers or {})


class ExchangeLog:
    """Appends one JSON line per vendor exchange. Thread-safe; secrets are redacted."""

    def __init__(self, path: str | Path, clock: Clock) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()

    def write(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, default=str, ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def prune(self, before: datetime) -> int:
        """Drop the exchanges logged before ``before`` (the retention policy); returns how
        many. Lines are appended in time order, so only the head is read as JSON; the rest is
        copied as it is, and the file is replaced atomically."""
        with self._lock:
            if not self.path.exists():
                return 0
            dropped = 0
            temporary = self.path.with_name(self.path.name + ".pruning")
            with (
                self.path.open(encoding="utf-8") as old,
                temporary.open("w", encoding="utf-8") as new,
            ):
                for line in old:
                    if _logged_at(line) < before:
                        dropped += 1
                        continue
                    new.write(line)
                    shutil.copyfileobj(old, new)
                    break
            if dropped:
                os.replace(temporary, self.path)
            else:
                temporary.unlink()
            return dropped


def _logged_at(line: str) -> datetime:
    """When a logged exchange happened; a line without a readable time counts as new."""
    try:
        when = datetime.fromisoformat(json.loads(line)["time"])
    except (ValueError, KeyError, TypeError):
        return datetime.max.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _parse_body(content: bytes, content_type: str) -> Any:
    if not content:
        return None
    text = content.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    if "x-www-form-urlencoded" in content_type:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(text, keep_blank_values=True))
    return text


def retry_after_seconds(response: httpx.Response, default: float = 1.0) -> float:
    value = response.headers.get("retry-after")
    if value is None:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


class VendorHttp:
    """An ``httpx.Client`` wrapper for one system.

    ``auth`` is called with each outgoing request to set its credentials (so a refreshed token
    applies to the next call). ``on_response`` lets the vendor client read its rate-limit
    headers. ``error_message`` pulls the vendor's own message out of an error body.
    """

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        clock: Clock,
        limiter: RateLimiter | None = None,
        exchange_log: ExchangeLog | None = None,
        auth: Callable[[httpx.Request], None] | None = None,
        on_response: Callable[[httpx.Response], None] | None = None,
        error_message: Callable[[Any], str | None] | None = None,
        secrets: Callable[[], list[str]] | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        connect_retries: int = 3,
    ) -> None:
        self.system = system
        self.clock = clock
        self.limiter = limiter
        self.exchange_log = exchange_log
        self._auth = auth
        self._on_response = on_response
        self._error_message = error_message or _default_error_message
        self._secrets = secrets or (lambda: [])
        KNOWN_SECRETS.watch(self)
        self.connect_retries = connect_retries
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "Handoff/0.1"},
        )
        # Per thread: an error names the exchange its own thread made, not another's.
        self._local = threading.local()

    @property
    def last_exchange_id(self) -> str | None:
        return getattr(self._local, "exchange_id", None)

    @last_exchange_id.setter
    def last_exchange_id(self, exchange_id: str | None) -> None:
        self._local.exchange_id = exchange_id

    def close(self) -> None:
        self.client.close()

    # ---------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        retry_auth: bool = True,
    ) -> httpx.Response:
        """Send one logical request; waits through 429s, retries connection failures briefly,
        and raises a classified :class:`ConnectorError` for anything but 2xx."""
        for _ in range(MAX_429_WAITS + 1):
            response = self._send_with_connect_retries(
                method, path, params, json_body, headers, data
            )
            if response.status_code == 429:
                wait = min(retry_after_seconds(response), MAX_RETRY_AFTER)
                if self.limiter is not None:
                    self.limiter.pause_all(wait)
                note_wait(wait)
                self.clock.sleep(wait)
                continue
            if response.status_code == 401 and retry_auth:
                raise AuthExpired(
                    f"{self.system}: 401 Unauthorized",
                    http_status=401,
                    vendor_message=self._vendor_message(response),
                    exchange_id=self.last_exchange_id,
                )
            if response.status_code >= 400:
                raise self._classify(response)
            return response
        raise RateLimited(
            f"{self.system}: still rate limited after {MAX_429_WAITS} waits",
            http_status=429,
            retry_after=retry_after_seconds(response),
            exchange_id=self.last_exchange_id,
        )

    def json(self, response: httpx.Response) -> Any:
        """The response body as JSON, or :class:`SchemaChanged` when it is not JSON."""
        try:
            return response.json()
        except ValueError as exc:
            raise SchemaChanged(
                f"{self.system}: response to {response.request.method} "
                f"{response.request.url.path} is not valid JSON",
                http_status=response.status_code,
                exchange_id=self.last_exchange_id,
            ) from exc

    # ---------------------------------------------------------------------------------------

    def _send_with_connect_retries(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
    ) -> httpx.Response:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.connect_retries),
            wait=tenacity.wait_exponential(multiplier=0.5, max=4),
            retry=tenacity.retry_if_exception(lambda exc: may_resend(exc, method, headers)),
            sleep=self.clock.sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._send_once(method, path, params, json_body, headers, data)
        except httpx.TimeoutException as exc:
            raise Transient(
                f"{self.system}: {method} {path} timed out", exchange_id=self.last_exchange_id
            ) from exc
        except httpx.TransportError as exc:
            raise Transient(
                f"{self.system}: {method} {path} failed: {type(exc).__name__}",
                exchange_id=self.last_exchange_id,
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
    ) -> httpx.Response:
        request = self.client.build_request(
            method,
            path,
            params={k: v for k, v in (params or {}).items() if v is not None},
            json=json_body,
            data=data,
            headers=dict(headers or {}),
        )
        if self.limiter is not None:
            waited = self.limiter.acquire()
            if waited:
                note_wait(waited)
        # Credentials go on after any wait for the limiter, so a long wait cannot send a
        # token that expired meanwhile.
        if self._auth is not None:
            self._auth(request)
        started = time.perf_counter()
        exchange_id = uuid.uuid4().hex[:16]
        self.last_exchange_id = exchange_id
        note_exchange(exchange_id)
        try:
            response = self.client.send(request)
            response.read()
        except httpx.TransportError as exc:
            self._log(exchange_id, request, None, started, error=type(exc).__name__)
            raise
        finally:
            if self.limiter is not None:
                self.limiter.release()
        self._log(exchange_id, request, response, started)
        if self._on_response is not None:
            self._on_response(response)
        return response

    def secret_values(self) -> list[str]:
        """The credentials this client holds now (tokens change as they refresh)."""
        return self._secrets()

    def _log(
        self,
        exchange_id: str,
        request: httpx.Request,
        response: httpx.Response | None,
        started: float,
        error: str | None = None,
    ) -> None:
        if self.exchange_log is None:
            return
        entry: dict[str, Any] = {
            "id": exchange_id,
            "time": self.clock.now().isoformat(),
            "system": self.system,
            "method": request.method,
            "url": redact_url(str(request.url)),
            "request_headers": redact_headers(dict(request.headers)),
            "request_body": redact_body(
                _parse_body(request.content, request.headers.get("content-type", ""))
            ),
            "status": response.status_code if response is not None else None,
            "response_headers": redact_headers(dict(response.headers)) if response else None,
            "response_body": redact_body(
                _parse_body(response.content, response.headers.get("content-type", ""))
            )
            if response is not None
            else None,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if error:
            entry["error"] = error
        text = json.dumps(entry, default=str, ensure_ascii=False)
        redacted = redact_text(text, self._secrets())
        if redacted != text:
            entry = json.loads(redacted)
        self.exchange_log.write(entry)

    def _vendor_message(self, response: httpx.Response) -> str | None:
        try:
            body = response.json()
        except ValueError:
            text = response.text.strip()
            return text[:300] or None
        message = self._error_message(body)
        return redact_text(message, self._secrets()) if message else None

    def _classify(self, response: httpx.Response) -> ConnectorError:
        status = response.status_code
        where = f"{self.system}: {response.request.method} {response.request.url.path} → {status}"
        return error_for_status(
            status,
            where,
            vendor_message=self._vendor_message(response),
            exchange_id=self.last_exchange_id,
            refreshable=False,  # a 401 that could be refreshed was raised before this
        )


def error_for_status(
    status: int,
    message: str,
    *,
    vendor_message: str | None = None,
    retry_after: float | None = None,
    exchange_id: str | None = None,
    refreshable: bool = True,
) -> ConnectorError:
    """How an HTTP error status is sorted, for every vendor and the in-process sandbox alike:
    401 with a credential that may be refreshed :class:`AuthExpired`, 429 :class:`RateLimited`,
    5xx and 408 transient, everything else permanent."""
    cls: type[ConnectorError]
    if status == 401 and refreshable:
        cls = AuthExpired
    elif status == 429:
        cls = RateLimited
    elif status >= 500 or status == 408:
        cls = Transient
    else:
        cls = Permanent
    return cls(
        message,
        http_status=status,
        vendor_message=vendor_message,
        retry_after=retry_after,
        exchange_id=exchange_id,
    )


def _default_error_message(body: Any) -> str | None:
    if isinstance(body, Mapping):
        for key in ("error", "message", "Message", "errors", "Detail"):
            if body.get(key):
                value = body[key]
                return value if isinstance(value, str) else json.dumps(value)[:500]
    return None
