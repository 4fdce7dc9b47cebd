"""An Asana API 1.0 sandbox: the subset Handoff uses, served under ``/api/1.0`` with bearer
auth, offset pagination, ``modified_since`` on tasks, custom fields, the plan's per-minute quota
(429 + Retry-After on the injected clock) and switchable faults.

    sandbox = AsanaSandbox(clock, tokens=["secret"])
    ws = sandbox.add_workspace("Acme"); team = sandbox.add_team(ws, "Delivery")
    sandbox.add_project(team, "Website", custom_fields={"Pipedrive deal": "D-1"})
    served = serve_wsgi(sandbox.wsgi_app)   # client base_url: served.url
    sandbox.faults.add("server_error", status=500)
"""

from __future__ import annotations

import base64
import json
import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connectors.clock import Clock
from connectors.faults import GENERIC_FAULTS
from connectors.sandbox_http import HttpSandbox

from .api import OAUTH_TOKEN_PATH
from .limits import RATE_LIMIT_MESSAGE, WINDOW_SECONDS, requests_per_minute
from .sandbox_state import AsanaState, NotFound

BASE_PATH = "/api/1.0"
FAULT_HEADER = "X-Sandbox-Fault"  # marks answers a fault broke on purpose (tests skip their body)
PROJECT_WRITABLE = ("name", "notes", "archived", "color", "due_on", "start_on")
TASK_WRITABLE = ("name", "notes", "completed", "due_on")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# An OAuth access token lasts an hour (``expires_in`` of Asana's token exchange).
OAUTH_TOKEN_SECONDS = 3600


def _rules() -> Map:
    r = [
        ("/workspaces/<ws>/custom_fields", "GET", "list_custom_fields"),
        ("/custom_fields", "POST", "create_custom_field"),
        ("/teams/<team>/projects", "GET", "list_projects"),
        ("/teams/<team>/projects", "POST", "create_project"),
        ("/projects/<gid>", "GET", "get_project"),
        ("/projects/<gid>", "PUT", "update_project"),
        ("/projects/<gid>/custom_field_settings", "GET", "list_settings"),
        ("/projects/<gid>/addCustomFieldSetting", "POST", "add_setting"),
        ("/tasks", "GET", "list_tasks"),
        ("/tasks", "POST", "create_task"),
        ("/tasks/<gid>", "GET", "get_task"),
        ("/tasks/<gid>", "PUT", "update_task"),
    ]
    return Map([Rule(BASE_PATH + path, methods=[m], endpoint=e) for path, m, e in r])


class AsanaSandbox(HttpSandbox):
    state: AsanaState

    def __init__(
        self, clock: Clock, tokens: Iterable[str] = ("sandbox-token",), plan: str = "free"
    ) -> None:
        super().__init__(clock)
        self.state = AsanaState(clock)
        self.tokens: dict[str, float | None] = {t: None for t in tokens}  # token -> expiry
        self.denied: dict[str, set[str]] = {}  # token -> scopes it lacks (default: none)
        # OAuth apps (client id -> secret) and the refresh tokens issued to each
        self.oauth_apps: dict[str, str] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> client id
        self.issued = 0
        self.quota = requests_per_minute(plan)
        self.renamed_field = ("modified_at", "last_modified_at")  # what renamed_field does
        self.requests: list[tuple[str, str]] = []
        self.rate_limited = 0
        self._calls: dict[str, deque[float]] = {}
        self._urls = _rules()
        self.wsgi_app = self._mark_faults(self.wsgi_app)

    # --- persistence ----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The workspace and the tokens (an expiring token keeps the time it had left)."""
        now = self.clock.monotonic()
        tokens = {t: None if exp is None else exp - now for t, exp in self.tokens.items()}
        return {"workspace": self.state.to_state(), "tokens": tokens}

    def from_state(self, state: dict[str, Any]) -> None:
        self.state.from_state(state["workspace"])
        self.tokens = {}
        for token, left in state["tokens"].items():
            self.add_token(token, left)

    # --- seeding --------------------------------------------------------------------------

    def add_token(self, token: str, expires_in: float | None = None) -> None:
        self.tokens[token] = None if expires_in is None else self.clock.monotonic() + expires_in

    def add_oauth_app(self, client_id: str, client_secret: str, refresh_token: str) -> None:
        """An OAuth app authorised once: ``refresh_token`` gets access tokens for it."""
        self.oauth_apps[client_id] = client_secret
        self.refresh_tokens[refresh_token] = client_id

    def deny(self, token: str, scope: str) -> None:
        """Take ``scope`` (as the spec's "Required scope" names it) away from ``token``."""
        self.denied.setdefault(token, set()).add(scope)

    def _require_scope(self, request: Request, scope: str) -> None:
        if scope in self.denied.get(request.environ.get("sandbox.token", ""), ()):
            raise ApiError(403, f"Forbidden: this token lacks the scope {scope}")

    def add_workspace(self, name: str) -> str:
        with self.state.lock:
            return str(self.state.add("workspace", name=name)["gid"])

    def add_team(self, workspace: str, name: str) -> str:
        with self.state.lock:
            return str(self.state.add("team", name=name, workspace=workspace)["gid"])

    def add_custom_field(self, workspace: str, name: str, subtype: str = "text") -> str:
        with self.state.lock:
            found = self.state.custom_field_by_name(workspace, name)
            if found:
                return found
            return str(
                self.state.add("custom_field", name=name, workspace=workspace, subtype=subtype)[
                    "gid"
                ]
            )

    def add_project(
        self, team: str, name: str, custom_fields: dict[str, Any] | None = None, **fields: Any
    ) -> str:
        with self.state.lock:
            ws = self.state.teams[team]["workspace"]
            base = {"notes": "", "archived": False, "color": None, "due_on": None, "start_on": None}
            project = self.state.add(
                "project", **{**base, **fields, "name": name, "team": team, "settings": []}
            )
            for cf_name, value in (custom_fields or {}).items():
                cf = self.add_custom_field(ws, cf_name)
                project["settings"].append(cf)
                project["values"][cf] = value
            return str(project["gid"])

    def add_task(
        self, project: str, name: str, custom_fields: dict[str, Any] | None = None, **fields: Any
    ) -> str:
        with self.state.lock:
            ws = self.state.teams[self.state.projects[project]["team"]]["workspace"]
            base = {"notes": "", "completed": False, "due_on": None}
            task = self.state.add(
                "task", **{**base, **fields, "name": name, "projects": [project], "workspace": ws}
            )
            for cf_name, value in (custom_fields or {}).items():
                cf = self.add_custom_field(ws, cf_name)
                if cf not in self.state.projects[project]["settings"]:
                    self.state.projects[project]["settings"].append(cf)
                task["values"][cf] = value
            return str(task["gid"])

    def touch(self, kind: str, gid: str, **values: Any) -> None:
        """Someone edits a record in Asana's web app: change it and bump ``modified_at``."""
        with self.state.lock:
            self.state.change(self.state.lookup(kind, gid), values)

    # --- inspection -----------------------------------------------------------------------

    def find(self, kind: str, name: str) -> list[str]:
        with self.state.lock:
            return [g for g, item in self.state.table(kind).items() if item["name"] == name]

    def value(self, kind: str, gid: str, custom_field: str) -> Any:
        with self.state.lock:
            item = self.state.lookup(kind, gid)
            by_name = {self.state.custom_fields[g]["name"]: g for g in item["values"]}
            return item["values"].get(by_name.get(custom_field, ""))

    # --- WSGI -----------------------------------------------------------------------------

    def _mark_faults(self, app: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            fired_before = len(self.faults.fired)

            def marking_start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
                fired = self.faults.fired[fired_before:]
                generic = [kind for kind in fired if kind in GENERIC_FAULTS]
                if generic:
                    headers = [*headers, (FAULT_HEADER, generic[-1])]
                return start_response(status, headers, *args)

            return app(environ, marking_start)

        return wrapped

    def _dispatch(self, request: Request, headers: dict[str, str]) -> Response:
        self.requests.append((request.method, request.path))
        return self._respond(request)

    def _respond(self, request: Request) -> Response:
        if request.path == OAUTH_TOKEN_PATH:
            return self._oauth_token(request)
        try:
            token = self._authenticate(request)
            request.environ["sandbox.token"] = token
            retry_after = self._count(token)
            if retry_after is not None:
                self.rate_limited += 1
                return _error(429, RATE_LIMIT_MESSAGE, {"Retry-After": str(retry_after)})
            endpoint, args = self._urls.bind_to_environ(request.environ).match()
            with self.state.lock:
                status, body = getattr(self, "_" + str(endpoint))(request, **args)
        except ApiError as exc:
            return _error(exc.status, exc.message)
        except NotFound as exc:
            return _error(404, str(exc.args[0]))
        except HTTPException as exc:
            return _error(exc.code or 404, "Not Found" if exc.code == 404 else str(exc.description))
        if self.faults.take(["renamed_field"], request.path, request.method):
            body = _rename(body, *self.renamed_field)
        return Response(json.dumps(body), status=status, content_type="application/json")

    def _oauth_token(self, request: Request) -> Response:
        """Asana's token exchange for the refresh-token grant: the app's id and secret in the
        form; the refresh token stays valid (Asana issues no new one on refresh)."""
        form = request.form
        client_id = form.get("client_id", "")
        if request.method != "POST" or form.get("grant_type") != "refresh_token":
            return _oauth_error(400, "unsupported_grant_type")
        if not client_id or self.oauth_apps.get(client_id) != form.get("client_secret"):
            return _oauth_error(401, "invalid_client")
        if self.refresh_tokens.get(form.get("refresh_token", "")) != client_id:
            return _oauth_error(400, "invalid_grant")
        self.issued += 1
        access = f"2/oauth-access-{self.issued}"
        self.add_token(access, OAUTH_TOKEN_SECONDS)
        body = {"access_token": access, "token_type": "bearer", "expires_in": OAUTH_TOKEN_SECONDS}
        return Response(json.dumps(body), status=200, content_type="application/json")

    def _authenticate(self, request: Request) -> str:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if token not in self.tokens or self.faults.take(
            ["expired_token"], request.path, request.method
        ):
            raise ApiError(401, "Not Authorized")
        expiry = self.tokens[token]
        if expiry is not None and self.clock.monotonic() >= expiry:
            raise ApiError(401, "Not Authorized")
        return token

    def _count(self, token: str) -> int | None:
        """Asana counts requests per token in minute-long windows; None means allowed."""
        now = self.clock.monotonic()
        calls = self._calls.setdefault(token, deque())
        while calls and calls[0] <= now - WINDOW_SECONDS:
            calls.popleft()
        if len(calls) >= self.quota:
            return max(1, math.ceil(calls[0] + WINDOW_SECONDS - now))
        calls.append(now)
        return None

    # --- endpoints ------------------------------------------------------------------------

    def _list_custom_fields(self, request: Request, ws: str) -> tuple[int, Any]:
        self.state.lookup("workspace", ws)
        gids = [g for g, cf in self.state.custom_fields.items() if cf["workspace"] == ws]
        return _page(request, gids, self.state.render_custom_field)

    def _create_custom_field(self, request: Request) -> tuple[int, Any]:
        self._require_scope(request, "custom_fields:write")
        data = _data(request)
        for key in ("workspace", "resource_subtype", "name"):
            if not data.get(key):
                raise ApiError(400, f"{key}: Missing input")
        self.state.lookup("workspace", data["workspace"])
        if self.state.custom_field_by_name(data["workspace"], data["name"]):
            # The spec: "A custom field's name must be unique within a workspace".
            raise ApiError(400, f"name: A custom field named {data['name']} already exists")
        cf = self.state.add(
            "custom_field",
            name=data["name"],
            workspace=data["workspace"],
            subtype=data["resource_subtype"],
        )
        return 201, {"data": self.state.render_custom_field(cf["gid"])}

    def _list_projects(self, request: Request, team: str) -> tuple[int, Any]:
        self.state.lookup("team", team)
        gids = [g for g, p in self.state.projects.items() if p["team"] == team]
        return _page(request, gids, lambda g: _select(request, self.state.render_project(g), True))

    def _create_project(self, request: Request, team: str) -> tuple[int, Any]:
        self.state.lookup("team", team)
        data = _data(request)
        if not data.get("name"):
            raise ApiError(400, "name: Missing input")
        gid = self.add_project(team, data["name"], **_pick(data, PROJECT_WRITABLE[1:]))
        return 201, {"data": _select(request, self.state.render_project(gid))}

    def _get_project(self, request: Request, gid: str) -> tuple[int, Any]:
        self.state.lookup("project", gid)
        return 200, {"data": _select(request, self.state.render_project(gid))}

    def _update_project(self, request: Request, gid: str) -> tuple[int, Any]:
        project = self.state.lookup("project", gid)
        self._write(project, _data(request), PROJECT_WRITABLE)
        return 200, {"data": _select(request, self.state.render_project(gid))}

    def _list_settings(self, request: Request, gid: str) -> tuple[int, Any]:
        project = self.state.lookup("project", gid)
        return _page(request, project["settings"], lambda cf: self.state.render_setting(gid, cf))

    def _add_setting(self, request: Request, gid: str) -> tuple[int, Any]:
        self._require_scope(request, "projects:write")
        project = self.state.lookup("project", gid)
        cf = str(_data(request).get("custom_field", ""))
        self.state.lookup("custom_field", cf)
        if cf in project["settings"]:
            raise ApiError(400, f"custom_field: Custom field {cf} is already on the project")
        project["settings"].append(cf)
        project["modified_at"] = self.state.now()
        return 200, {"data": self.state.render_setting(gid, cf)}

    def _list_tasks(self, request: Request) -> tuple[int, Any]:
        project = request.args.get("project")
        if not project:
            raise ApiError(
                400, "project: Must specify a project, tag, section or assignee + workspace"
            )
        self.state.lookup("project", project)
        since = request.args.get("modified_since")
        gids = [
            g
            for g, t in self.state.tasks.items()
            if project in t["projects"] and (since is None or _after(t["modified_at"], since))
        ]
        return _page(request, gids, lambda g: _select(request, self.state.render_task(g), True))

    def _create_task(self, request: Request) -> tuple[int, Any]:
        data = _data(request)
        projects = data.get("projects") or []
        if not projects:
            raise ApiError(400, "projects: A task must be in a project or workspace")
        for p in projects:
            self.state.lookup("project", p)
        gid = self.add_task(projects[0], data.get("name", ""), **_pick(data, TASK_WRITABLE[1:]))
        task = self.state.tasks[gid]
        task["projects"] = list(projects)
        self._write(task, {"custom_fields": data.get("custom_fields") or {}}, ())
        task["modified_at"] = task["created_at"]
        return 201, {"data": _select(request, self.state.render_task(gid))}

    def _get_task(self, request: Request, gid: str) -> tuple[int, Any]:
        self.state.lookup("task", gid)
        return 200, {"data": _select(request, self.state.render_task(gid))}

    def _update_task(self, request: Request, gid: str) -> tuple[int, Any]:
        self._write(self.state.lookup("task", gid), _data(request), TASK_WRITABLE)
        return 200, {"data": _select(request, self.state.render_task(gid))}

    def _write(self, item: dict[str, Any], data: dict[str, Any], writable: tuple[str, ...]) -> None:
        values = data.get("custom_fields") or {}
        allowed = self.state.fields_on(item)
        for cf in values:
            if cf not in allowed:
                raise ApiError(400, f"custom_fields: Custom field {cf} is not on given object")
        item["values"].update(values)
        self.state.change(item, _pick(data, writable))


# --- helpers ------------------------------------------------------------------------------


def _oauth_error(status: int, error: str) -> Response:
    return Response(json.dumps({"error": error}), status=status, content_type="application/json")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps({"errors": [{"message": message}]})
    return Response(body, status=status, content_type="application/json", headers=headers)


def _data(request: Request) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise ApiError(400, "data: Missing input")
    return body["data"]


def _pick(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: data[k] for k in keys if k in data}


def _after(modified_at: str, since: str) -> bool:
    from datetime import datetime

    def parse(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    try:
        return parse(modified_at) >= parse(since)
    except ValueError:
        raise ApiError(400, "modified_since: Not a valid date-time") from None


def _select(request: Request, full: dict[str, Any], listing: bool = False) -> dict[str, Any]:
    """Asana returns compact records in lists and full ones singly, unless opt_fields says."""
    opt = request.args.get("opt_fields")
    if opt is None:
        return {k: full[k] for k in ("gid", "resource_type", "name")} if listing else full
    wanted = {name.split(".")[0] for name in opt.split(",")} | {"gid", "resource_type"}
    return {k: v for k, v in full.items() if k in wanted}


def _page(
    request: Request, items: list[str], render: Callable[[str], dict[str, Any]]
) -> tuple[int, Any]:
    """Offset pagination: ``next_page`` only when ``limit`` was given; null on the last page.
    Only the page's own records are rendered, so a long list pages in linear time."""
    if "limit" not in request.args:
        return 200, {"data": [render(item) for item in items]}
    try:
        limit = int(request.args["limit"])
        start = int(base64.urlsafe_b64decode(request.args.get("offset", "MA==")).decode())
    except ValueError:
        raise ApiError(400, "offset: Your pagination token is invalid") from None
    if not 1 <= limit <= 100:
        raise ApiError(400, "limit: Must be between 1 and 100")
    end = start + limit
    next_page = None
    if end < len(items):
        token = base64.urlsafe_b64encode(str(end).encode()).decode()
        path = f"{request.path[len(BASE_PATH) :]}?limit={limit}&offset={token}"
        next_page = {
            "offset": token,
            "path": path,
            "uri": f"{request.root_url.rstrip('/')}{BASE_PATH}{path}",
        }
    return 200, {"data": [render(item) for item in items[start:end]], "next_page": next_page}


def _rename(body: Any, old: str, new: str) -> Any:
    def fix(item: Any) -> Any:
        if isinstance(item, dict) and old in item:
            item = {(new if k == old else k): v for k, v in item.items()}
        return item

    data = body.get("data")
    body = dict(body, data=[fix(i) for i in data] if isinstance(data, list) else fix(data))
    return body
