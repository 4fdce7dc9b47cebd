"""Contract checks: every request a client sends and every response a sandbox returns is
validated against the vendor's published OpenAPI document in ``HANDOFF_SPECS_DIR``.

Use :class:`RecordingTransport` as the ``transport`` of a client under test, then
``ContractValidator.for_spec("xero_accounting.yaml").check_all(transport.exchanges)``.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

# spec file -> the vendor's server URL in that document (its path is the sandbox base path)
SPEC_SERVERS = {
    "xero_accounting.yaml": "https://api.xero.com/api.xro/2.0",
    "asana_oas.yaml": "https://app.asana.com/api/1.0",
    "pipedrive_v1.yaml": "https://api.pipedrive.com/v1",
    "pipedrive_v2.yaml": "https://api.pipedrive.com/api/v2",
}


def specs_dir() -> Path:
    configured = os.environ.get("HANDOFF_SPECS_DIR")
    if configured:
        return Path(configured)
    return (REPO_ROOT / ".." / "shared" / "specs").resolve()


@functools.lru_cache(maxsize=8)
def _load_openapi(spec_file: str) -> Any:
    from jsonschema_path import SchemaPath
    from openapi_core import Config, OpenAPI

    path = specs_dir() / spec_file
    if not path.exists():
        raise FileNotFoundError(
            f"vendor specification {path} not found; set HANDOFF_SPECS_DIR to ../shared/specs"
        )
    with path.open() as fh:
        document = yaml.load(fh, Loader=yaml.CSafeLoader)
    spec = SchemaPath.from_dict(_string_status_codes(document))
    return OpenAPI(spec, config=Config(spec_validator_cls=None))


def _string_status_codes(document: Any) -> Any:
    """YAML reads unquoted ``200:`` response codes as integers; OpenAPI wants strings."""
    for path_item in (document.get("paths") or {}).values():
        if not isinstance(path_item, dict):
            continue
        for operation in path_item.values():
            if isinstance(operation, dict) and isinstance(operation.get("responses"), dict):
                operation["responses"] = {str(k): v for k, v in operation["responses"].items()}
    return document


@dataclass
class Exchange:
    request: httpx.Request
    response: httpx.Response


class RecordingTransport(httpx.BaseTransport):
    """An httpx transport that sends for real and keeps every (request, response) pair."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        with self._lock:
            self.exchanges.append(Exchange(request, response))
        return response

    def close(self) -> None:
        self.inner.close()


@dataclass
class ContractValidator:
    spec_file: str
    server: str
    problems: list[str] = field(default_factory=list)

    @classmethod
    def for_spec(cls, spec_file: str) -> ContractValidator:
        return cls(spec_file=spec_file, server=SPEC_SERVERS[spec_file])

    def owns(self, request: httpx.Request) -> bool:
        """True when the request's path is under this spec's base path."""
        return request.url.path.startswith(urlsplit(self.server).path + "/")

    def check(self, request: httpx.Request, response: httpx.Response | None = None) -> None:
        """Raise ``AssertionError`` naming the rule when either side breaks the spec."""
        from openapi_core.testing import MockRequest, MockResponse

        api = _load_openapi(self.spec_file)
        base_path = urlsplit(self.server).path
        sub_path = request.url.path[len(base_path) :]
        server = urlsplit(self.server)
        content_type = request.headers.get("content-type", "").split(";")[0] or None
        mock_request = MockRequest(
            f"{server.scheme}://{server.netloc}",
            request.method.lower(),
            base_path + sub_path,
            args=dict(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
            headers=dict(request.headers),
            data=request.content or None,
            content_type=content_type or "application/json",
        )
        try:
            api.validate_request(mock_request)
        except Exception as exc:
            raise AssertionError(
                f"request breaks {self.spec_file}: {request.method} {request.url.path}: "
                f"{_explain(exc)}\nbody: {request.content[:500]!r}"
            ) from exc
        if response is None:
            return
        mock_response = MockResponse(
            response.content,
            status_code=response.status_code,
            headers=dict(response.headers),
            content_type=response.headers.get("content-type", "application/json").split(";")[0],
        )
        try:
            api.validate_response(mock_request, mock_response)
        except Exception as exc:
            raise AssertionError(
                f"response breaks {self.spec_file}: {request.method} {request.url.path} "
                f"→ {response.status_code}: {_explain(exc)}\nbody: {response.content[:800]!r}"
            ) from exc

    def check_all(self, exchanges: list[Exchange]) -> int:
        """Check every exchange this spec owns; returns how many were checked."""
        checked = 0
        for exchange in exchanges:
            if self.owns(exchange.request):
                self.check(exchange.request, exchange.response)
                checked += 1
        return checked


def _explain(exc: BaseException) -> str:
    parts = [f"{type(exc).__name__}: {exc}"]
    cause = exc.__cause__ or exc.__context__
    for _ in range(4):
        if cause is None:
            break
        parts.append(f"{type(cause).__name__}: {cause}")
        details = getattr(cause, "schema_errors", None)
        if details:
            parts.extend(str(getattr(e, "message", e)) for e in details[:5])
        cause = cause.__cause__ or cause.__context__
    return " | ".join(parts)


def as_json(response: httpx.Response) -> Any:
    return json.loads(response.content)
