"""A Pipedrive look-alike for tests and the demo: ``/api/v2/...`` and ``/v1/...`` on one WSGI app.

It enforces what the connector must cope with: ``x-api-token`` / bearer auth (and v1's
``api_token`` query parameter), cursor pagination, ``updated_since``, custom fields by
generated key, the documented per-token 2-second windows (search: 10) with Pipedrive's
rate-limit headers and 429s on the injected clock, the daily POST/PUT budget, and switchable
faults (generic ones through ``fault_middleware``; ``renamed_field`` renames ``update_time`` in
returned items, ``expired_token`` answers 401 and, for an OAuth app, spends the token).

An OAuth app (``add_oauth_app``) refreshes at ``POST /oauth/token`` (the app's id and secret by
HTTP Basic, the refresh-token grant); its bearer tokens expire after ``expires_in`` seconds on
the sandbox's clock, each refresh issues a new refresh token and spends the old one, and the
answer's ``api_domain`` names the company's host.

    sandbox = PipedriveSandbox(clock=clock)
    org = sandbox.add_organization("Acme Ltd")
    sandbox.add_deal("Acme – Website", org_id=org["id"], custom={"Handoff ID": "HO-1"})
    served = sandbox.serve()          # served.url is the connector's base_url
    sandbox.faults.add("server_error")
    sandbox.webhooks.deliver()        # POST queued webhook notifications to their receivers
"""

from __future__ import annotations

import base64
import json
import math
import secrets
from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from connectors.clock import Clock
from connectors.pipedrive.sandbox_state import SORTABLE, BadRequest, SandboxState
from connectors.pipedrive.sandbox_webhooks import WebhookHub
from connectors.sandbox_http import HttpSandbox

COLLECTIONS = {"deals": "deal", "persons": "person", "organizations": "organization"}
FIELD_PATHS = {"dealFields": "deal", "personFields": "person", "organizationFields": "organization"}
WINDOW = 2.0
MAX_LIMIT = 500
# Pipedrive's documented example answer from /oauth/token: "expires_in": 3599
OAUTH_TOKEN_SECONDS = 3599

URLS = Map(
    [
        Rule("/api/v2/itemSearch/field", endpoint="search_field", methods=["GET"]),
        Rule("/api/v2/<collection>", endpoint="list", methods=["GET"]),
        Rule("/api/v2/<collection>", endpoint="create", methods=["POST"]),
        Rule("/api/v2/<collection>/<int:ident>", endpoint="get", methods=["GET"]),
        Rule("/api/v2/<collection>/<int:ident>", endpoint="patch", methods=["PATCH"]),
        Rule("/v1/<collection>/<int:ident>/merge", endpoint="merge", methods=["PUT"]),
        Rule("/v1/users", endpoint="users", methods=["GET"]),
        Rule("/v1/webhooks", endpoint="webhooks", methods=["GET"]),
        Rule("/v1/webhooks", endpoint="add_webhook", methods=["POST"]),
        Rule("/v1/webhooks/<int:ident>", endpoint="delete_webhook", methods=["DELETE"]),
        Rule("/v1/<fields_path>", endpoint="fields", methods=["GET"]),
        Rule("/v1/<fields_path>", endpoint="add_field", methods=["POST"]),
    ],
    strict_slashes=False,
)


def _error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"success": False, "error": message, "errorCode": status}


class _Window:
    """A rolling window as Pipedrive describes it: ``calls`` per ``period`` seconds."""

    def __init__(self, calls: int, period: float = WINDOW) -> None:
        self.calls, self.period = calls, period
        self.stamps: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self.stamps and self.stamps[0] <= now - self.period:
            self.stamps.popleft()
        return 0.0 if len(self.stamps) < self.calls else self.stamps[0] + self.period - now

    def remaining(self) -> int:
        return max(0, self.calls - len(self.stamps))

    def reset(self, now: float) -> float:
        return self.stamps[0] + self.period - now if self.stamps else self.period


class _TokenLimits:
    """One token's windows: everything, search, and the day's POST/PUT budget."""

    def __init__(self, calls: int, search_calls: int, daily_writes: int) -> None:
        self.burst = _Window(calls)
        self.search = _Window(search_calls)
        self.daily_writes = daily_writes


class PipedriveSandbox(HttpSandbox):
    state: SandboxState

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        api_token: str = "sandbox-api-token",
        access_token: str | None = None,
        rate_limit: int = 20,
        search_rate_limit: int = 10,
        daily_writes: int = 10_000,
    ) -> None:
        super().__init__(clock)
        self.state = SandboxState(self.clock)
        self.webhooks = WebhookHub(self.clock)
        self.state.on_change = self.webhooks.notify
        self.api_token = api_token
        self.access_token = access_token
        self.rate_limit = rate_limit
        self.search_rate_limit = search_rate_limit
        self.daily_writes = daily_writes
        self._limits: dict[str, _TokenLimits] = {}
        # the company's users (owners of records); the seeded records belong to user 1
        self.users: list[dict[str, Any]] = [
            {
                "id": 1,
                "name": "Sandbox Owner",
                "email": "owner@sandbox.example",
                "active_flag": True,
            }
        ]
        # OAuth apps (client id -> secret), live refresh tokens (-> client id), and the bearer
        # tokens issued with when each expires
        self.oauth_apps: dict[str, str] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.latest_refresh: dict[str, str] = {}  # client id -> the refresh token issued last
        self.access_tokens: dict[str, datetime] = {}
        self.issued = 0
        self.api_domain = "https://sandbox.pipedrive.com"

    # -- OAuth ------------------------------------------------------------------------------

    def add_oauth_app(self, client_id: str, client_secret: str, refresh_token: str) -> None:
        """An OAuth app installed once: ``refresh_token`` gets access tokens for it."""
        with self._lock:
            self.oauth_apps[client_id] = client_secret
            self.refresh_tokens[refresh_token] = client_id
            self.latest_refresh[client_id] = refresh_token

    def app_credentials(self, client_id: str) -> dict[str, str]:
        """What a client of the app needs now: its id, its secret, the refresh token issued
        last (each refresh spends the one before)."""
        with self._lock:
            return {
                "client_id": client_id,
                "client_secret": self.oauth_apps[client_id],
                "refresh_token": self.latest_refresh[client_id],
            }

    def revoke_refresh_tokens(self) -> None:
        """The company uninstalls the app: every refresh token stops working."""
        with self._lock:
            self.refresh_tokens.clear()

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (as after its hour)."""
        with self._lock:
            self.access_tokens.clear()

    def to_state(self) -> dict[str, Any]:
        """The records and the OAuth grants (apps, live refresh tokens, access tokens with
        their expiry), so tokens a client holds stay good across a restart."""
        with self._lock:
            oauth = {
                "apps": dict(self.oauth_apps),
                "refresh_tokens": dict(self.refresh_tokens),
                "latest_refresh": dict(self.latest_refresh),
                "access_tokens": {t: when.isoformat() for t, when in self.access_tokens.items()},
                "issued": self.issued,
            }
        return {**self.state.to_state(), "oauth": oauth}

    def from_state(self, state: dict[str, Any]) -> None:
        state = dict(state)
        oauth = state.pop("oauth", None)
        self.state.from_state(state)
        if oauth is None:  # kept before OAuth apps were served
            return
        with self._lock:
            self.oauth_apps = dict(oauth["apps"])
            self.refresh_tokens = dict(oauth["refresh_tokens"])
            self.latest_refresh = dict(oauth["latest_refresh"])
            self.access_tokens = {
                t: datetime.fromisoformat(when) for t, when in oauth["access_tokens"].items()
            }
            self.issued = int(oauth["issued"])

    def _oauth_token(self, request: Request) -> tuple[int, Any]:
        auth = request.authorization
        if not auth or self.oauth_apps.get(auth.username or "") != auth.password:
            # RFC 6749 section 5.2's error answers
            return 401, {"error": "invalid_client"}
        form = request.form
        with self._lock:
            owner = self.refresh_tokens.get(form.get("refresh_token", ""))
            if form.get("grant_type") != "refresh_token" or owner is None or owner != auth.username:
                return 400, {"error": "invalid_grant"}
            del self.refresh_tokens[form["refresh_token"]]
            self.issued += 1
            access = f"oauth-access-{self.issued}-{secrets.token_urlsafe(12)}"
            refresh = f"oauth-refresh-{self.issued}-{secrets.token_urlsafe(12)}"
            self.refresh_tokens[refresh] = owner
            self.latest_refresh[owner] = refresh
            self.access_tokens[access] = self.clock.now() + timedelta(seconds=OAUTH_TOKEN_SECONDS)
        return 200, {
            "access_token": access,
            "token_type": "Bearer",
            "refresh_token": refresh,
            "scope": "base deals:full contacts:full",
            "expires_in": OAUTH_TOKEN_SECONDS,
            "api_domain": self.api_domain,
        }

    # -- seeding and inspection -------------------------------------------------------------

    def add_field(self, record_type: str, name: str, field_type: str = "varchar") -> str:
        return str(self.state.add_field(record_type, name, field_type)["key"])

    def add_organization(
        self, name: str, *, address: str | None = None, custom: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if address:
            body["address"] = {"value": address}
        return self._seed("organization", body, custom)

    def add_person(
        self,
        name: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        org_id: int | None = None,
        custom: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "org_id": org_id}
        body["emails"] = [{"value": email, "primary": True, "label": "work"}] if email else []
        body["phones"] = [{"value": phone, "primary": True, "label": "work"}] if phone else []
        return self._seed("person", body, custom)

    def add_deal(
        self,
        title: str,
        *,
        value: float = 0,
        currency: str = "EUR",
        status: str = "open",
        org_id: int | None = None,
        person_id: int | None = None,
        custom: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = {"title": title, "value": value, "currency": currency, "status": status}
        body.update(org_id=org_id, person_id=person_id)
        return self._seed("deal", body, custom)

    def add_user(self, name: str, email: str) -> dict[str, Any]:
        user = {"id": max(u["id"] for u in self.users) + 1, "name": name, "email": email}
        self.users.append({**user, "active_flag": True})
        return user

    def update(self, record_type: str, ident: int, **changes: Any) -> dict[str, Any]:
        """Change a record as a user would in the web app (``custom=`` by human name)."""
        custom = changes.pop("custom", None)
        item = self.state.patch(
            record_type, ident, {**changes, **self._custom(record_type, custom)}
        )
        if item is None:
            raise KeyError(f"no {record_type} {ident}")
        return item

    def win_deal(self, ident: int) -> dict[str, Any]:
        return self.update("deal", ident, status="won")

    def custom_value(self, record_type: str, ident: int, name: str) -> Any:
        key = self.state.field_key(record_type, name)
        item = self.state.get(record_type, ident) or {}
        return (item.get("custom_fields") or {}).get(key) if key else None

    def records(self, record_type: str) -> list[dict[str, Any]]:
        return self.state.all(record_type)

    def _seed(self, record_type: str, body: dict[str, Any], custom: dict[str, Any] | None) -> Any:
        return self.state.insert(record_type, {**body, **self._custom(record_type, custom)})

    def _custom(self, record_type: str, custom: dict[str, Any] | None) -> dict[str, Any]:
        if not custom:
            return {}
        keys = {}
        for name, value in custom.items():
            key = self.state.field_key(record_type, name) or self.add_field(record_type, name)
            keys[key] = value
        return {"custom_fields": keys}

    # -- HTTP ---------------------------------------------------------------------------------

    def _dispatch(self, request: Request, headers: dict[str, str]) -> tuple[int, Any]:
        if request.path == "/oauth/token" and request.method == "POST":
            return self._oauth_token(request)
        token = self._token(request)
        if token is None or self.faults.take(["expired_token"], request.path, request.method):
            with self._lock:
                self.access_tokens.pop(token or "", None)
            return _error(401, "unauthorized access")
        limited = self._rate_limit(token, request, headers)
        if limited is not None:
            return limited
        try:
            endpoint, args = URLS.bind_to_environ(request.environ).match()
        except HTTPException as exc:
            return _error(exc.code or 404, exc.description or "not found")
        try:
            status, body = getattr(self, f"_{endpoint}")(request, **args)
        except BadRequest as exc:
            return _error(400, str(exc))
        if self.faults.take(["renamed_field"], request.path, request.method):
            body = _rename(body, "update_time", "updated_at")
        return status, body

    def _token(self, request: Request) -> str | None:
        given = request.headers.get("x-api-token")
        if given is None and request.path.startswith("/v1/"):
            given = request.args.get("api_token")  # v1's documented query-parameter form
        if given is not None:
            return given if given == self.api_token else None
        bearer = request.headers.get("authorization", "")
        if not bearer.startswith("Bearer "):
            return None
        given = bearer[7:]
        if self.access_token and given == self.access_token:
            return given
        with self._lock:
            expires = self.access_tokens.get(given)
            if expires is None or expires <= self.clock.now():
                self.access_tokens.pop(given, None)
                return None
        return given

    def _rate_limit(
        self, token: str, request: Request, headers: dict[str, str]
    ) -> tuple[int, Any] | None:
        with self._lock:
            limits = self._limits.setdefault(
                token, _TokenLimits(self.rate_limit, self.search_rate_limit, self.daily_writes)
            )
            now = self.clock.monotonic()
            windows = [limits.burst]
            if "/itemSearch" in request.path or request.path.endswith("/search"):
                windows.append(limits.search)
            wait = max(w.wait(now) for w in windows)
            is_write = request.method in ("POST", "PUT", "PATCH")
            out_of_writes = is_write and limits.daily_writes <= 0
            if wait <= 0 and not out_of_writes:
                for window in windows:
                    window.stamps.append(now)
                if is_write:
                    limits.daily_writes -= 1
            tightest = min(windows, key=lambda w: w.remaining())
            headers["x-ratelimit-limit"] = str(tightest.calls)
            headers["x-ratelimit-remaining"] = str(tightest.remaining())
            headers["x-ratelimit-reset"] = str(max(1, math.ceil(tightest.reset(now))))
            if token == self.api_token:  # documented for api_token requests only
                headers["x-daily-requests-left"] = str(max(0, limits.daily_writes))
        if wait > 0:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return _error(429, "Too many requests")
        if out_of_writes:
            return _error(429, "Daily request limit reached")
        return None

    # -- endpoints (v2) -------------------------------------------------------------------------

    def _list(self, request: Request, collection: str) -> tuple[int, Any]:
        record_type = COLLECTIONS.get(collection)
        if record_type is None:
            return _error(404, f"unknown collection {collection}")
        args = request.args
        sort_by = args.get("sort_by", "id")
        if sort_by not in SORTABLE or args.get("sort_direction", "asc") not in ("asc", "desc"):
            return _error(400, "invalid sort_by or sort_direction")
        descending = args.get("sort_direction") == "desc"
        after = None
        if args.get("cursor"):
            after = _decode_cursor(args["cursor"])
            if after is None:
                return _error(400, "invalid cursor")
        since, until = args.get("updated_since"), args.get("updated_until")
        statuses = (
            args["status"].split(",") if record_type == "deal" and args.get("status") else None
        )
        limit = min(max(int(args.get("limit", 100)), 1), MAX_LIMIT)
        page: list[dict[str, Any]] = []
        more = False
        with self.state.lock:
            if args.get("ids"):
                wanted = {int(i) for i in args["ids"].split(",") if i.strip().isdigit()}
                table = self.state.items[record_type]
                chosen = sorted(
                    (table[i] for i in wanted if i in table),
                    key=lambda i: (i[sort_by], i["id"]),
                    reverse=descending,
                )
                if after is not None:
                    position = after
                    chosen = [
                        i
                        for i in chosen
                        if (
                            (i[sort_by], i["id"]) < position
                            if descending
                            else (i[sort_by], i["id"]) > position
                        )
                    ]
                items: Iterable[dict[str, Any]] = chosen
            else:
                ascending_by_time = sort_by == "update_time" and not descending
                items = self.state.ordered(
                    record_type,
                    sort_by,
                    after=after,
                    descending=descending,
                    since=since if ascending_by_time else None,
                )
            for item in items:
                if since and item["update_time"] < since:
                    continue
                if until and item["update_time"] >= until:
                    continue
                if statuses is not None and item["status"] not in statuses:
                    continue
                if len(page) == limit:
                    more = True
                    break
                page.append(dict(item))
        extra: dict[str, Any] = {}
        if more:
            last = page[-1]
            extra["next_cursor"] = _encode_cursor((last[sort_by], last["id"]))
        return 200, {"success": True, "data": page, "additional_data": extra}

    def _get(self, request: Request, collection: str, ident: int) -> tuple[int, Any]:
        record_type = COLLECTIONS.get(collection)
        item = self.state.get(record_type, ident) if record_type else None
        if item is None:
            return _error(404, f"{(record_type or collection).capitalize()} not found")
        return 200, {"success": True, "data": item}

    def _create(self, request: Request, collection: str) -> tuple[int, Any]:
        record_type = COLLECTIONS.get(collection)
        if record_type is None:
            return _error(404, f"unknown collection {collection}")
        return 200, {"success": True, "data": self.state.insert(record_type, _json(request))}

    def _patch(self, request: Request, collection: str, ident: int) -> tuple[int, Any]:
        record_type = COLLECTIONS.get(collection)
        item = self.state.patch(record_type, ident, _json(request)) if record_type else None
        if item is None:
            return _error(404, f"{(record_type or collection).capitalize()} not found")
        return 200, {"success": True, "data": item}

    def _search_field(self, request: Request) -> tuple[int, Any]:
        args = request.args
        record_type, key, term = (
            args.get("entity_type", ""),
            args.get("field"),
            args.get("term", ""),
        )
        if record_type not in COLLECTIONS.values() or not key or not term:
            return _error(400, "term, entity_type and field are required")
        match = args.get("match", "exact")
        found = []
        with self.state.lock:
            if match == "exact":  # the connector's lookup by canonical ID: keyed, not scanned
                candidates = self.state.matching(record_type, key, term)
            else:
                candidates = sorted(self.state.items[record_type].values(), key=lambda i: i["id"])
        for item in candidates:
            value = (item.get("custom_fields") or {}).get(key, item.get(key))
            text = "" if value is None else str(value)
            if (
                (match == "exact" and text == term)
                or (match == "beginning" and text.startswith(term))
                or (match == "middle" and term in text)
            ):
                found.append({"id": item["id"], "name": item.get("title", item.get("name"))})
        limit = min(max(int(args.get("limit", 100)), 1), MAX_LIMIT)
        return 200, {"success": True, "data": found[:limit], "additional_data": {}}

    # -- endpoints (v1) -------------------------------------------------------------------------

    def _fields(self, request: Request, fields_path: str) -> tuple[int, Any]:
        record_type = FIELD_PATHS.get(fields_path)
        if record_type is None:
            return _error(404, f"unknown path {fields_path}")
        with self.state.lock:
            fields = list(self.state.fields[record_type])
        start = max(int(request.args.get("start", 0)), 0)
        limit = max(int(request.args.get("limit", 100)), 1)
        page = fields[start : start + limit]
        pagination = {
            "start": start,
            "limit": limit,
            "more_items_in_collection": start + limit < len(fields),
        }
        return 200, {"success": True, "data": page, "additional_data": {"pagination": pagination}}

    def _add_field(self, request: Request, fields_path: str) -> tuple[int, Any]:
        record_type = FIELD_PATHS.get(fields_path)
        if record_type is None:
            return _error(404, f"unknown path {fields_path}")
        body = _json(request)
        if not body.get("name") or not body.get("field_type"):
            return _error(400, "name and field_type are required")
        return 200, {
            "success": True,
            "data": self.state.add_field(record_type, str(body["name"]), str(body["field_type"])),
        }

    def _merge(self, request: Request, collection: str, ident: int) -> tuple[int, Any]:
        """The record in the path is merged into ``merge_with_id`` and removed; the kept one's
        values win where both have one (its empty ones take the other's), and records that
        pointed at the removed one point at the kept one."""
        record_type = COLLECTIONS.get(collection)
        if record_type is None:
            return _error(404, f"unknown collection {collection}")
        keep = _json(request).get("merge_with_id")
        if not isinstance(keep, int) or isinstance(keep, bool):
            return _error(400, "merge_with_id must be an integer")
        if keep == ident:
            return _error(400, "cannot merge an item with itself")
        kept = self.state.merge(record_type, ident, keep)
        if kept is None:
            return _error(404, f"{record_type.capitalize()} not found")
        # v1 answers with the kept item's id (organizations: only that).
        return 200, {"success": True, "data": {"id": kept["id"]}}

    def _users(self, request: Request) -> tuple[int, Any]:
        return 200, {"success": True, "data": [dict(u) for u in self.users]}

    def _webhooks(self, request: Request) -> tuple[int, Any]:
        return self.webhooks.listing()

    def _add_webhook(self, request: Request) -> tuple[int, Any]:
        return self.webhooks.add(_json(request))

    def _delete_webhook(self, request: Request, ident: int) -> tuple[int, Any]:
        return self.webhooks.delete(ident)


def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError as exc:
        raise BadRequest("request body is not JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("request body must be an object")
    return body


def _encode_cursor(position: tuple[Any, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def _decode_cursor(raw: str) -> tuple[Any, int] | None:
    try:
        value, ident = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return value, int(ident)
    except (ValueError, TypeError):
        return None


def _rename(body: Any, old: str, new: str) -> Any:
    """The renamed_field fault: a vendor release renames a key the connector relies on."""
    if not isinstance(body, dict) or "data" not in body:
        return body
    data = body["data"]
    items = data if isinstance(data, list) else [data]
    for item in items:
        if isinstance(item, dict) and old in item:
            item[new] = item.pop(old)
    return body
