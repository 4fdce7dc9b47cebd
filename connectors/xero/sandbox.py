"""A Xero emulator for tests and the demo: the Accounting API subset the connector uses, the
identity server's token endpoint, Xero's per-tenant rate limits on an injected clock, and
switchable faults.

    sandbox = XeroSandbox(clock)
    sandbox.add_contact(Name="Acme Ltd", ContactNumber="PD-1")
    served = sandbox.serve()                    # http://127.0.0.1:<port>
    sandbox.faults.add("expired_token")         # or server_error, rate_limit, renamed_field...
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connectors.base import ConnectorSettings
from connectors.clock import Clock
from connectors.sandbox_http import HttpSandbox

from .dates import format_xero_date, parse_xero_date
from .limits import DAY, DAY_CALLS, IN_FLIGHT, MINUTE, MINUTE_CALLS
from .resources import CONTACT, INVOICE, RECORD_TYPES, RecordType
from .sandbox_store import FilterError, OrgStore

API = "/api.xro/2.0"
TOKEN_LIFETIME = 1800  # Xero access tokens live 30 minutes
# "If you don't receive a response from a token refresh you can retry using your existing
# refresh token for up to 30 minutes" (Xero's OAuth 2.0 FAQ): a client killed before it kept
# the new token is not locked out.
REFRESH_GRACE = timedelta(minutes=30)
APP_MINUTE_CALLS = 10_000
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100

_ROUTES = Map(
    [
        Rule("/connect/token", endpoint="token", methods=["POST"]),
        Rule(f"{API}/<collection>", endpoint="collection", methods=["GET", "PUT", "POST"]),
        Rule(f"{API}/<collection>/<item_id>", endpoint="item", methods=["GET", "POST"]),
    ]
)
_BY_COLLECTION = {r.body_key: r for r in RECORD_TYPES.values()}


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


class TenantLimits:
    """Xero's per-tenant windows (60 a minute, 5,000 a day, 5 in flight) on the clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.windows: dict[str, tuple[int, float, deque[float]]] = {
            "minute": (MINUTE_CALLS, MINUTE, deque()),
            "day": (DAY_CALLS, DAY, deque()),
            "appminute": (APP_MINUTE_CALLS, MINUTE, deque()),
        }
        self.in_flight = 0
        self.refused = 0
        self._lock = threading.Lock()

    def enter(self) -> dict[str, str]:
        """Count one call, or raise :class:`_Refused` with Xero's 429."""
        with self._lock:
            now = self.clock.monotonic()
            for name, (calls, period, stamps) in self.windows.items():
                while stamps and stamps[0] <= now - period:
                    stamps.popleft()
                if len(stamps) >= calls:
                    self.refused += 1
                    wait = max(1, math.ceil(stamps[0] + period - now))
                    raise _Refused(_too_many(wait, name))
            if self.in_flight >= IN_FLIGHT:
                self.refused += 1
                raise _Refused(_too_many(1, None))
            for _, _, stamps in self.windows.values():
                stamps.append(now)
            self.in_flight += 1
            return self._headers()

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _headers(self) -> dict[str, str]:
        left = {name: calls - len(stamps) for name, (calls, _, stamps) in self.windows.items()}
        return {
            "X-MinLimit-Remaining": str(left["minute"]),
            "X-DayLimit-Remaining": str(left["day"]),
            "X-AppMinLimit-Remaining": str(left["appminute"]),
        }


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def _ids(value: str | None) -> list[str] | None:
    """Xero's ``IDs`` filter: comma-separated record ids, each a UUID."""
    if value is None:
        return None
    ids = [part.strip().strip('"') for part in value.split(",") if part.strip()]
    for ident in ids:
        try:
            uuid.UUID(ident)
        except ValueError:
            raise FilterError(f"IDs: {ident!r} is not a valid GUID") from None
    return ids


def _too_many(wait: int, problem: str | None) -> Response:
    headers = {"Retry-After": str(wait)}
    if problem:
        headers["X-Rate-Limit-Problem"] = problem
    return _json({"Title": "Too Many Requests", "Status": 429}, 429, headers)


def _unauthorized(detail: str) -> Response:
    body = {"Type": None, "Title": "Unauthorized", "Status": 401, "Detail": detail}
    return _json(body, 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'})


class XeroSandbox(HttpSandbox):
    """One Xero organisation (tenant) and one OAuth2 app authorised on it."""

    state: OrgStore

    def __init__(
        self,
        clock: Clock,
        *,
        tenant_id: str = "sandbox-tenant",
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-secret",
        refresh_token: str = "sandbox-refresh-0",
    ) -> None:
        super().__init__(clock)
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        # the refresh token spent last and when: good again within REFRESH_GRACE, as long as
        # the token issued for it has not been used
        self.spent_refresh: tuple[str, datetime] | None = None
        self.state = OrgStore()
        self.limits = TenantLimits(clock)
        self.access_tokens: dict[str, datetime] = {}
        self.token_grants = 0
        # what the token endpoint grants (a test takes one away to play a narrow consent)
        self.scopes = "accounting.contacts accounting.transactions offline_access"
        self._idempotent: dict[tuple[str, str, str], tuple[int, Any]] = {}

    @property
    def calls(self) -> list[tuple[str, str, int]]:
        """Every answer as (method, path, status)."""
        return self.log

    # -- Python API for tests and the demo ------------------------------------------------

    def credentials(self) -> dict[str, str]:
        """What a connector needs to sign in. The refresh token rotates with every use: the
        current one is the one that works."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "tenant_id": self.tenant_id,
        }

    def settings(self, base_url: str, system: str = "xero", **options: Any) -> ConnectorSettings:
        """A Xero connector's settings for this sandbox served at ``base_url``."""
        return ConnectorSettings(
            system=system,
            connector="xero",
            credentials=self.credentials(),
            options=options,
            base_url=base_url,
        )

    def to_state(self) -> dict[str, Any]:
        """The organisation's records and the OAuth grant (the current refresh token and the
        access tokens issued), so a token file kept by a client stays good across restarts."""
        with self._lock:
            grant = {
                "refresh_token": self.refresh_token,
                "spent_refresh": (
                    [self.spent_refresh[0], self.spent_refresh[1].isoformat()]
                    if self.spent_refresh
                    else None
                ),
                "access_tokens": {t: when.isoformat() for t, when in self.access_tokens.items()},
                "token_grants": self.token_grants,
                "idempotent": [
                    [*slot, status, body] for slot, (status, body) in self._idempotent.items()
                ],
            }
        return {"org": self.state.to_state(), **grant}

    def from_state(self, state: dict[str, Any]) -> None:
        self.state.from_state(state["org"])
        with self._lock:
            self.refresh_token = str(state["refresh_token"])
            spent = state.get("spent_refresh")
            self.spent_refresh = (spent[0], datetime.fromisoformat(spent[1])) if spent else None
            self.access_tokens = {
                t: datetime.fromisoformat(when) for t, when in state["access_tokens"].items()
            }
            self.token_grants = int(state["token_grants"])
            self._idempotent = {
                (method, path, key): (status, body)
                for method, path, key, status, body in state["idempotent"]
            }

    def add_contact(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("Name", f"Contact {uuid.uuid4().hex[:6]}")
        return self.state.seed(CONTACT, fields, self._stamp())

    def add_invoice(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("Type", "ACCREC")
        return self.state.seed(INVOICE, fields, self._stamp())

    def contacts(self) -> list[dict[str, Any]]:
        return list(self.state.all(CONTACT))

    def invoices(self) -> list[dict[str, Any]]:
        return list(self.state.all(INVOICE))

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (as after 30 minutes)."""
        with self._lock:
            self.access_tokens.clear()

    def _stamp(self) -> datetime:
        # Millisecond precision, as in Xero's /Date(ms)/ values.
        now = self.clock.now()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    # -- WSGI -----------------------------------------------------------------------------

    def _dispatch(self, request: Request, headers: dict[str, str]) -> Response:
        try:
            endpoint, args = _ROUTES.bind_to_environ(request.environ).match()
            if endpoint == "token":
                return self._token(request)
            return self._api(request, endpoint, args)
        except _Refused as refused:
            return refused.response
        except HTTPException as exc:
            return _json({"Title": exc.name, "Status": exc.code}, exc.code or 500)

    def _token(self, request: Request) -> Response:
        auth = request.authorization
        if not auth or (auth.username, auth.password) != (self.client_id, self.client_secret):
            return _json({"error": "invalid_client"}, 400)
        form = request.form
        with self._lock:
            presented = form.get("refresh_token")
            now = self.clock.now()
            if form.get("grant_type") != "refresh_token":
                return _json({"error": "invalid_grant"}, 400)
            if presented == self.refresh_token:
                # Rotation: the refresh token just used is spent, kept for the grace period.
                self.spent_refresh = (presented, now)
            elif not (
                self.spent_refresh is not None
                and presented == self.spent_refresh[0]
                and now - self.spent_refresh[1] <= REFRESH_GRACE
            ):
                return _json({"error": "invalid_grant"}, 400)
            access = "at-" + secrets.token_urlsafe(24)
            self.refresh_token = "rt-" + secrets.token_urlsafe(24)
            self.access_tokens[access] = self.clock.now() + timedelta(seconds=TOKEN_LIFETIME)
            self.token_grants += 1
            body = {
                "access_token": access,
                "expires_in": TOKEN_LIFETIME,
                "token_type": "Bearer",
                "refresh_token": self.refresh_token,
                "scope": self.scopes,
            }
        return _json(body)

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        with self._lock:
            if self.faults.take(["expired_token"], request.path, request.method):
                self.access_tokens.pop(token, None)
            expires = self.access_tokens.get(token)
            if expires is None or expires <= self.clock.now():
                self.access_tokens.pop(token, None)
                raise _Refused(_unauthorized("TokenExpired: token expired"))
        if request.headers.get("xero-tenant-id") != self.tenant_id:
            raise _Refused(
                _json(
                    {"Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"},
                    403,
                )
            )

    def _api(self, request: Request, endpoint: str, args: Mapping[str, Any]) -> Response:
        resource = _BY_COLLECTION.get(args["collection"])
        if resource is None:
            raise NotFound()
        self._authenticate(request)
        headers = self.limits.enter()
        try:
            if request.method == "GET":
                response = self._read(request, resource, args.get("item_id"))
            else:
                response = self._write_once(request, resource, args.get("item_id"))
        finally:
            self.limits.leave()
        response.headers.extend(Headers(headers))
        return response

    # -- reads ----------------------------------------------------------------------------

    def _envelope(
        self, request: Request, resource: RecordType, elements: list[Any]
    ) -> dict[str, Any]:
        if self.faults.take(["renamed_field"], request.path, request.method):
            renamed = resource.id_field[:-1] + "d"  # ContactID -> ContactId
            elements = [
                {(renamed if k == resource.id_field else k): v for k, v in e.items()}
                for e in elements
            ]
        return {
            "Id": str(uuid.uuid4()),
            "Status": "OK",
            "ProviderName": "Handoff sandbox",
            "DateTimeUTC": format_xero_date(self.clock.now()),
            resource.body_key: elements,
        }

    def _read(self, request: Request, resource: RecordType, item_id: str | None) -> Response:
        if item_id is not None:
            element = self.state.get(resource, item_id)
            if element is None:
                raise NotFound()
            return _json(self._envelope(request, resource, [element]))
        args = request.args
        since_header = request.headers.get("If-Modified-Since")
        try:
            since = parse_xero_date(since_header) if since_header else None
            if since_header and since is None:
                raise FilterError(f"If-Modified-Since is not a date: {since_header!r}")
            rows = self.state.query(
                resource,
                where=args.get("where"),
                since=since,
                include_archived=args.get("includeArchived", "").lower() == "true",
                ids=_ids(args.get("IDs")),
            )
        except FilterError as exc:
            return _json(
                {"ErrorNumber": 16, "Type": "QueryParseException", "Message": str(exc)}, 400
            )
        page = args.get("page", type=int)
        if page is None:
            return _json(self._envelope(request, resource, rows))
        size = min(max(args.get("pageSize", DEFAULT_PAGE_SIZE, type=int), 1), MAX_PAGE_SIZE)
        chunk = rows[(page - 1) * size : page * size]
        body = self._envelope(request, resource, chunk)
        body["pagination"] = {
            "page": page,
            "pageSize": size,
            "pageCount": max(1, math.ceil(len(rows) / size)),
            "itemCount": len(rows),
        }
        return _json(body)

    # -- writes ---------------------------------------------------------------------------

    def _write_once(self, request: Request, resource: RecordType, item_id: str | None) -> Response:
        """Replays the first answer to a repeated Idempotency-Key instead of writing twice."""
        key = request.headers.get("Idempotency-Key")
        slot = (request.method, request.path, key or "")
        if key:
            with self._lock:
                if slot in self._idempotent:
                    status, body = self._idempotent[slot]
                    return _json(body, status)
        status, body = self._write(request, resource, item_id)
        if key:
            with self._lock:
                self._idempotent[slot] = (status, body)
        return _json(body, status)

    def _write(
        self, request: Request, resource: RecordType, item_id: str | None
    ) -> tuple[int, Any]:
        payload = request.get_json(silent=True) or {}
        sent = payload.get(resource.body_key)
        if not isinstance(sent, list):
            return 400, {
                "ErrorNumber": 14,
                "Type": "PostDataInvalidException",
                "Message": f"JSON for {resource.body_key} is missing",
            }
        if item_id is not None:
            sent = [{**element, resource.id_field: item_id} for element in sent]
        # Xero's own default is to fail the whole batch on one bad element.
        summarize = request.args.get("summarizeErrors", "true").lower() != "false"
        with self.state.lock:
            plans = []
            for element in sent:
                create = request.method == "PUT" or not element.get(resource.id_field)
                plans.append(
                    (element, create, self.state.validate(resource, element, create=create))
                )
            if summarize and any(errors for _, _, errors in plans):
                elements = [
                    {**element, "ValidationErrors": [{"Message": m} for m in errors]}
                    for element, _, errors in plans
                ]
                return 400, {
                    "ErrorNumber": 10,
                    "Type": "ValidationException",
                    "Message": "A validation exception occurred",
                    "Elements": elements,
                }
            out = []
            for element, create, errors in plans:
                if errors:
                    out.append(
                        {
                            **element,
                            "HasValidationErrors": True,
                            "StatusAttributeString": "ERROR",
                            "ValidationErrors": [{"Message": m} for m in errors],
                        }
                    )
                    continue
                saved = self.state.save(resource, element, self._stamp(), create=create)
                out.append({**saved, "StatusAttributeString": "OK"})
        return 200, self._envelope(request, resource, out)
