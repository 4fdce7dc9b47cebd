"""Masks credentials wherever a URL, header or body is written down (logs, audit, Slack).

Two kinds of masking: by shape (secret-looking keys, headers, ``Bearer …``), and by value:
:data:`KNOWN_SECRETS` holds this process's configured secret values (the credentials resolved
at start-up, and the tokens its vendor clients hold as they refresh), and :func:`redact_text`
masks every one of them, wherever the text is going.
"""

from __future__ import annotations

import base64
import re
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[REDACTED]"

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-token",
        "x-api-key",
        "cookie",
        "set-cookie",
        "x-slack-signature",
        "xero-tenant-id",
    }
)
SECRET_KEYS = frozenset(
    {
        "api_token",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "client_id_secret",
        "password",
        "http_auth_password",
        "webhook_password",
        "secret",
        "code",
        "authorization",
    }
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")


def is_secret_key(name: str) -> bool:
    return name.lower() in SECRET_KEYS


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query and not parts.password:
        return url
    query = urlencode(
        [(k, REDACTED if is_secret_key(k) else v) for k, v in parse_qsl(parts.query, True)],
        safe="[]",
    )
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(parts.password, REDACTED)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_body(body: Any) -> Any:
    """Replace the values of secret-looking keys anywhere in a parsed JSON or form body."""
    if isinstance(body, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_key(k) else redact_body(v))
            for k, v in body.items()
        }
    if isinstance(body, list):
        return [redact_body(v) for v in body]
    if isinstance(body, str):
        return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", body)
    return body


class HoldsSecrets(Protocol):
    def secret_values(self) -> Iterable[str]: ...


MIN_SECRET = 6  # shorter values would mask ordinary words


class KnownSecrets:
    """The secret values this process was configured with, and live holders of more (a
    client whose access token refreshes). Holders are weakly referenced: a closed client
    drops out by itself."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._holders: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                if value and len(value) >= MIN_SECRET:
                    self._values.add(value)

    def add_basic(self, user: str, password: str) -> None:
        """A user and password as HTTP basic auth sends them (base64 of ``user:password``)."""
        self.add(base64.b64encode(f"{user}:{password}".encode()).decode())

    def watch(self, holder: HoldsSecrets) -> None:
        with self._lock:
            self._holders.add(holder)

    def values(self) -> list[str]:
        with self._lock:
            found = set(self._values)
            holders = list(self._holders)
        for holder in holders:
            found.update(v for v in holder.secret_values() if v and len(v) >= MIN_SECRET)
        # Longest first: a secret that contains another is masked whole.
        return sorted(found, key=len, reverse=True)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._holders = weakref.WeakSet()


KNOWN_SECRETS = KnownSecrets()


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """The one redaction step for free text (log lines, tracebacks, error messages kept in
    the audit log): the configured secret values, ``secrets`` given here, bearer and basic
    credentials."""
    for secret in sorted({*secrets, *KNOWN_SECRETS.values()}, key=len, reverse=True):
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
