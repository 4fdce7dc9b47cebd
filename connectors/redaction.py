"""Masks credentials wherever a URL, header or body is written down (logs, audit, Slack)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
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


def redact_text(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Mask known secret values and bearer tokens in free text (error messages)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
