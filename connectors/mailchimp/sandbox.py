"""A Mailchimp look-alike for tests and the demo: the Marketing API under ``/3.0``.

It enforces what the connector must cope with: basic auth with the API key as password (or an
OAuth bearer token), offset/count paging (count at most 1,000), ``since_last_changed`` and
``before_last_changed``, ``sort_field``/``sort_dir``, ``fields`` filtering, merge fields that
must exist before a member holds them, Mailchimp's problem documents, the limit of 10
concurrent connections per key (a 429 beyond it), batch operations that progress with the
injected clock (``ops_per_second``, a sandbox setting), audience webhooks
(:mod:`.sandbox_webhooks`), and switchable faults (generic ones through ``fault_middleware``;
``renamed_field`` renames ``last_changed``, ``expired_token`` answers 401).

    sandbox = MailchimpSandbox(clock=clock)
    audience = sandbox.add_list("Newsletter")
    sandbox.add_member(audience["id"], "jane@acme.example", {"FNAME": "Jane"})
    served = sandbox.serve()          # served.url is the connector's base_url
    sandbox.webhooks.deliver()        # POST queued audience webhooks to their receivers
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connectors.clock import Clock
from connectors.sandbox_http import HttpSandbox

from .records import iso, parse_time
from .sandbox_state import Invalid, SandboxState
from .sandbox_webhooks import Refused, WebhookHub

MAX_COUNT = 1000
MAX_CONNECTIONS = 10
RESULTS_PATH = "/_sandbox/batch-results"
PROBLEM = "application/problem+json"
# The members listing's sort parameters and their values (the API reference).
SORT_FIELDS = ("timestamp_opt", "timestamp_signup", "last_changed")
SORT_DIRS = ("ASC", "DESC")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

URLS = Map(
    [
        Rule("/3.0/lists", endpoint="lists", methods=["GET"]),
        Rule("/3.0/lists/<list_id>", endpoint="list", methods=["GET"]),
        Rule("/3.0/lists/<list_id>/merge-fields", endpoint="merge_fields", methods=["GET"]),
        Rule("/3.0/lists/<list_id>/merge-fields", endpoint="add_merge_field", methods=["POST"]),
        Rule("/3.0/lists/<list_id>/members", endpoint="members", methods=["GET"]),
        Rule("/3.0/lists/<list_id>/members/<member_hash>", endpoint="member", methods=["GET"]),
        Rule(
            "/3.0/lists/<list_id>/members/<member_hash>",
            endpoint="put_member",
            methods=["PUT", "PATCH"],
        ),
        Rule("/3.0/lists/<list_id>/members/<member_hash>/tags", endpoint="tags", methods=["POST"]),
        Rule("/3.0/lists/<list_id>/webhooks", endpoint="webhooks", methods=["GET"]),
        Rule("/3.0/lists/<list_id>/webhooks", endpoint="add_webhook", methods=["POST"]),
        Rule(
            "/3.0/lists/<list_id>/webhooks/<webhook_id>",
            endpoint="delete_webhook",
            methods=["DELETE"],
        ),
        Rule("/3.0/batches", endpoint="start_batch", methods=["POST"]),
        Rule("/3.0/batches/<batch_id>", endpoint="batch", methods=["GET"]),
        Rule(f"{RESULTS_PATH}/<batch_id>.tar.gz", endpoint="results", methods=["GET"]),
    ],
    strict_slashes=False,
)


def problem(status: int, title: str, detail: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": uuid.uuid4().hex,
    }


class MailchimpSandbox(HttpSandbox):
    state: SandboxState

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        api_key: str = "sandbox0key-us6",
        access_token: str | None = None,
        ops_per_second: float = 100.0,
        max_connections: int = MAX_CONNECTIONS,
        latency: float = 0.0,
    ) -> None:
        super().__init__(clock)
        self.state = SandboxState(self.clock)
        self.webhooks = WebhookHub(self.clock)
        self.state.on_change = self.webhooks.notify
        self.api_key = api_key
        self.access_token = access_token
        self.ops_per_second = ops_per_second
        self.max_connections = max_connections
        # Simulated seconds each call takes (benchmarks on a FrozenClock); 0: none.
        self.latency = latency
        self.batches: dict[str, dict[str, Any]] = {}
        self._in_flight = 0
        self.peak_in_flight = 0
        self.wsgi_app = self._connections(self.wsgi_app)

    # -- seeding and inspection -------------------------------------------------------------

    def add_list(self, name: str) -> dict[str, Any]:
        return self.state.add_list(name)

    def add_merge_field(self, list_id: str, tag: str, name: str | None = None) -> None:
        self.state.add_merge_field(list_id, {"tag": tag, "name": name or tag, "type": "text"})

    def add_member(
        self,
        list_id: str,
        email: str,
        merge_fields: Mapping[str, Any] | None = None,
        *,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        return self.state.seed_member(list_id, email, merge_fields, tags)

    def members(self, list_id: str) -> list[dict[str, Any]]:
        return self.state.changed(list_id, None, None)

    # -- HTTP -------------------------------------------------------------------------------

    def _response(self, status: int, body: Any) -> Response:
        """JSON, problem documents for errors, gzip archives for batch results."""
        if isinstance(body, bytes):
            return Response(body, status=status, mimetype="application/gzip")
        if status == 204:
            return Response(b"", status=204)
        mimetype = PROBLEM if status >= 400 else "application/json"
        return Response(json.dumps(body), status=status, mimetype=mimetype)

    def _connections(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """Mailchimp's limit of simultaneous connections, counted around everything else (a
        stalled answer holds its connection)."""

        def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            with self._lock:
                full = self._in_flight >= self.max_connections
                if not full:
                    self._in_flight += 1
                    self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            if full:
                detail = (
                    f"You have exceeded the limit of {self.max_connections} simultaneous "
                    "connections."
                )
                status, body = problem(429, "Too Many Requests", detail)
                self.log.append((environ.get("REQUEST_METHOD", ""), environ["PATH_INFO"], 429))
                response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
                return response(environ, start_response)
            try:
                if self.latency:
                    self.clock.sleep(self.latency)
                return list(app(environ, start_response))
            finally:
                with self._lock:
                    self._in_flight -= 1

        return wrapped

    def _dispatch(self, request: Request, headers: dict[str, str]) -> tuple[int, Any]:
        try:
            endpoint, args = URLS.bind_to_environ(request.environ).match()
        except HTTPException as exc:
            return problem(exc.code or 404, "Resource Not Found", exc.description or "")
        if endpoint == "results":  # a pre-signed archive URL: no API key
            return self._results(**args)
        if not self._authorized(request) or self.faults.take(
            ["expired_token"], request.path, request.method
        ):
            return problem(401, "API Key Invalid", "Your API key may be invalid, or revoked.")
        params = dict(request.args)
        body = request.get_json(silent=True) if request.data else None
        status, answer = self._route(request.method, endpoint, args, params, body)
        if isinstance(answer, dict) and "{root}" in str(answer.get("response_body_url")):
            root = request.url_root.rstrip("/")
            answer["response_body_url"] = answer["response_body_url"].replace("{root}", root)
        if self.faults.take(["renamed_field"], request.path, request.method):
            answer = json.loads(json.dumps(answer).replace('"last_changed"', '"changed_at"'))
        if status < 300 and params.get("fields") and isinstance(answer, dict):
            answer = _only(answer, params["fields"].split(","))
        return status, answer

    def _route(
        self,
        method: str,
        endpoint: str,
        args: Mapping[str, Any],
        params: dict[str, str],
        body: Any,
    ) -> tuple[int, Any]:
        try:
            status, answer = getattr(self, f"_{endpoint}")(method, params, body, **args)
            return int(status), answer
        except Invalid as exc:
            return problem(exc.status, exc.title, exc.detail)
        except (ValueError, TypeError, KeyError) as exc:
            return problem(400, "Bad Request", f"Your request could not be processed: {exc}")

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                _, _, key = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return key == self.api_key
        if header.startswith("Bearer ") and self.access_token:
            return header[7:] == self.access_token
        return False

    # -- endpoints --------------------------------------------------------------------------

    def _lists(self, method: str, params: dict[str, str], body: Any) -> tuple[int, Any]:
        audiences = [self.state.audience(i) for i in sorted(self.state.lists)]
        page, total = _page(audiences, params)
        return 200, {"lists": page, "total_items": total}

    def _list(self, method: str, params: dict[str, str], body: Any, list_id: str) -> Any:
        return 200, self.state.audience(list_id)

    def _merge_fields(self, method: str, params: dict[str, str], body: Any, list_id: str) -> Any:
        self.state.audience(list_id)
        page, total = _page(list(self.state.merge_fields[list_id]), params)
        return 200, {"merge_fields": page, "list_id": list_id, "total_items": total}

    def _add_merge_field(self, method: str, params: dict[str, str], body: Any, list_id: str) -> Any:
        return 200, self.state.add_merge_field(list_id, body or {})

    def _members(self, method: str, params: dict[str, str], body: Any, list_id: str) -> Any:
        members = self.state.changed(
            list_id, params.get("since_last_changed"), params.get("before_last_changed")
        )
        if params.get("status"):
            members = [m for m in members if m["status"] == params["status"]]
        members = _sorted(members, params)
        page, total = _page(members, params)
        return 200, {"members": page, "list_id": list_id, "total_items": total}

    def _member(
        self, method: str, params: dict[str, str], body: Any, list_id: str, member_hash: str
    ) -> Any:
        found = self.state.member(list_id, member_hash)
        if found is None:
            raise Invalid(404, "Resource Not Found", "The requested resource was not found")
        return 200, found

    def _put_member(
        self, method: str, params: dict[str, str], body: Any, list_id: str, member_hash: str
    ) -> Any:
        if not isinstance(body, dict):
            raise Invalid(400, "Invalid Resource", "a JSON object body is required")
        return 200, self.state.put_member(list_id, member_hash, body, put=method == "PUT")

    def _tags(
        self, method: str, params: dict[str, str], body: Any, list_id: str, member_hash: str
    ) -> Any:
        if not isinstance(body, dict) or not isinstance(body.get("tags"), list):
            raise Invalid(400, "Invalid Resource", "tags is required")
        self.state.set_tags(list_id, member_hash, body["tags"])
        return 204, None

    # -- webhooks ---------------------------------------------------------------------------

    def _webhooks(self, method: str, params: dict[str, str], body: Any, list_id: str) -> Any:
        self.state.audience(list_id)
        return 200, self.webhooks.listing(list_id)

    def _add_webhook(self, method: str, params: dict[str, str], body: Any, list_id: str) -> Any:
        self.state.audience(list_id)
        try:
            return 200, self.webhooks.add(list_id, body)
        except Refused as exc:
            raise Invalid(exc.status, exc.title, exc.detail) from exc

    def _delete_webhook(
        self, method: str, params: dict[str, str], body: Any, list_id: str, webhook_id: str
    ) -> Any:
        try:
            self.webhooks.delete(list_id, webhook_id)
        except Refused as exc:
            raise Invalid(exc.status, exc.title, exc.detail) from exc
        return 204, None

    # -- batch operations -------------------------------------------------------------------

    def _start_batch(self, method: str, params: dict[str, str], body: Any) -> Any:
        operations = body.get("operations") if isinstance(body, dict) else None
        if not isinstance(operations, list):
            raise Invalid(400, "Invalid Resource", "operations is required")
        batch_id = uuid.uuid4().hex[:10]
        # Run now, reveal with the clock: the client sees progress as Mailchimp shows it.
        results = [self._operation(op) for op in operations]
        self.batches[batch_id] = {
            "id": batch_id,
            "submitted": self.clock.monotonic(),
            "submitted_at": iso(self.clock.now()),
            "results": results,
        }
        return 200, self._batch_view(batch_id)

    def _operation(self, op: Any) -> dict[str, Any]:
        if not isinstance(op, dict) or not op.get("method") or not op.get("path"):
            status, answer = problem(400, "Invalid Resource", "method and path are required")
            return {"status_code": status, "operation_id": None, "response": json.dumps(answer)}
        environ_path = "/3.0" + str(op["path"])
        adapter = URLS.bind("sandbox")
        try:
            endpoint, args = adapter.match(environ_path, method=str(op["method"]).upper())
            params = {k: str(v) for k, v in (op.get("params") or {}).items()}
            body = json.loads(op["body"]) if op.get("body") else None
            status, answer = self._route(str(op["method"]).upper(), endpoint, args, params, body)
        except HTTPException as exc:
            status, answer = problem(exc.code or 404, "Resource Not Found", str(exc.description))
        return {
            "status_code": status,
            "operation_id": op.get("operation_id"),
            "response": json.dumps(answer) if answer is not None else "",
        }

    def _batch(self, method: str, params: dict[str, str], body: Any, batch_id: str) -> Any:
        if batch_id not in self.batches:
            raise Invalid(404, "Resource Not Found", "The requested resource was not found")
        return 200, self._batch_view(batch_id)

    def _batch_view(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        total = len(batch["results"])
        elapsed = self.clock.monotonic() - batch["submitted"]
        done = min(total, int(elapsed * self.ops_per_second))
        finished = done >= total
        view = {
            "id": batch_id,
            "status": "finished" if finished else ("started" if done else "pending"),
            "total_operations": total,
            "finished_operations": done,
            "errored_operations": sum(
                1 for r in batch["results"][:done] if int(r["status_code"]) >= 400
            ),
            "submitted_at": batch["submitted_at"],
            "completed_at": iso(self.clock.now()) if finished else "",
            "response_body_url": "",
        }
        if finished:
            view["response_body_url"] = f"{{root}}{RESULTS_PATH}/{batch_id}.tar.gz"
        return view

    def _results(self, batch_id: str) -> tuple[int, Any]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return problem(404, "Resource Not Found", "no such archive")
        data = json.dumps(batch["results"]).encode()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            info = tarfile.TarInfo(f"{batch_id}/{batch_id}.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        return 200, buffer.getvalue()


def _sorted(members: list[dict[str, Any]], params: Mapping[str, str]) -> list[dict[str, Any]]:
    """``sort_field`` (one of Mailchimp's three time fields) and ``sort_dir`` (ASC, the
    default, or DESC); members with the same time keep the audience's order."""
    field, direction = params.get("sort_field"), params.get("sort_dir", "ASC")
    if direction not in SORT_DIRS:
        raise Invalid(400, "Invalid Resource", f"sort_dir must be one of {', '.join(SORT_DIRS)}")
    if field is None:
        return members
    if field not in SORT_FIELDS:
        known = ", ".join(SORT_FIELDS)
        raise Invalid(400, "Invalid Resource", f"sort_field must be one of {known}")
    return sorted(
        members, key=lambda m: parse_time(m.get(field)) or EPOCH, reverse=direction == "DESC"
    )


def _page(items: list[Any], params: Mapping[str, str]) -> tuple[list[Any], int]:
    count = int(params.get("count", 10))
    if count < 1 or count > MAX_COUNT:
        raise Invalid(400, "Invalid Resource", f"count must be 1 to {MAX_COUNT}")
    offset = max(0, int(params.get("offset", 0)))
    return items[offset : offset + count], len(items)


def _only(answer: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """The ``fields`` filter: keep the dotted paths named (``members.merge_fields.TAG``)."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path.strip().split("."):
            node = node.setdefault(part, {})

    def keep(value: Any, wanted: dict[str, Any]) -> Any:
        if not wanted:
            return value
        if isinstance(value, list):
            return [keep(v, wanted) for v in value]
        if isinstance(value, dict):
            return {k: keep(value[k], w) for k, w in wanted.items() if k in value}
        return value

    kept: dict[str, Any] = keep(answer, tree)
    return kept
