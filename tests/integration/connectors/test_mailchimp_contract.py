"""Contract tests for Mailchimp: every call the client makes, and every route the sandbox
answers, exists in Mailchimp's officially generated Python client (``mailchimp-marketing``)
with that method, that path and those query parameters, and carries a body exactly when the
operation takes one.

The package's API classes build each request in a ``*_with_http_info`` method:
``all_params = [...]`` names its parameters and ``call_api('/lists/{list_id}/members', 'GET',
...)`` its path and method. They are read from the source (not called), so nothing is sent.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from connectors.clock import FrozenClock
from connectors.mailchimp import sandbox as sandbox_module
from connectors.mailchimp.records import subscriber_hash
from connectors.mailchimp.sandbox import MailchimpSandbox
from connectors.serving import ServedApp
from tests.integration.connectors.test_mailchimp import ID_FIELD, connect, item
from tests.support.contract import RecordingTransport

mailchimp_marketing = pytest.importorskip("mailchimp_marketing")

PATH_PARAMS = {"list_id", "subscriber_hash", "batch_id", "merge_id", "webhook_id"}
CLIENT_ONLY = {"async_req", "_return_http_data_only", "_preload_content", "_request_timeout"}


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str
    params: frozenset[str]
    takes_body: bool

    def matches(self, method: str, path: str) -> bool:
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", self.path)
        return method == self.method and re.fullmatch(pattern, path) is not None


def _operations() -> list[Operation]:
    api_dir = Path(mailchimp_marketing.__file__).parent / "api"
    found = []
    for module in sorted(api_dir.glob("*_api.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef) or not func.name.endswith("_with_http_info"):
                continue
            params: list[str] = []
            call: ast.Call | None = None
            for node in ast.walk(func):
                if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "all_params" for t in node.targets
                ):
                    params = [ast.literal_eval(e) for e in node.value.elts]  # type: ignore[attr-defined]
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "call_api"
                ):
                    call = node
            assert call is not None, func.name
            path, method = (ast.literal_eval(arg) for arg in call.args[:2])
            found.append(
                Operation(
                    name=f"{module.stem}.{func.name.removesuffix('_with_http_info')}",
                    method=method,
                    path=path,
                    params=frozenset(params) - CLIENT_ONLY - PATH_PARAMS - {"body"},
                    takes_body="body" in params,
                )
            )
    return found


OPERATIONS = _operations()


def operation_for(method: str, path: str) -> Operation:
    # The most specific template wins: /lists/{id}/members/{hash} over /lists/{id}.
    candidates = [op for op in OPERATIONS if op.matches(method, path)]
    assert candidates, f"{method} {path} is not an operation of mailchimp-marketing"
    return min(candidates, key=lambda op: op.path.count("{"))


def check_call(method: str, path: str, query: dict[str, str], has_body: bool) -> Operation:
    op = operation_for(method, path)
    unknown = set(query) - op.params
    assert not unknown, f"{method} {path}: {sorted(unknown)} not parameters of {op.name}"
    assert has_body == op.takes_body, f"{method} {path}: body {has_body}, {op.name} {op.takes_body}"
    return op


def test_the_package_is_read() -> None:
    # The reading itself must work, or every check below would pass vacuously.
    members = operation_for("GET", "/lists/abc/members")
    assert members.name == "lists_api.get_list_members_info"
    assert {"since_last_changed", "count", "offset", "fields"} <= members.params
    assert operation_for("PUT", "/lists/abc/members/x").takes_body
    with pytest.raises(AssertionError):
        operation_for("GET", "/lists/abc/subscribers")
    with pytest.raises(AssertionError, match="not parameters"):
        check_call("GET", "/lists/abc/members", {"updated_since": "x"}, False)


@pytest.fixture
def served(clock: FrozenClock) -> Any:
    box = MailchimpSandbox(clock=clock, api_key="0123456789abcdef0123456789abcdef-us6")
    list_id = box.add_list("Newsletter")["id"]
    box.add_member(list_id, "hand@example.org", {"FNAME": "Hand"})
    app = box.serve()
    yield box, app, list_id
    app.shutdown()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def test_every_call_the_client_makes_is_a_mailchimp_operation(
    served: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    transport = RecordingTransport()
    connector = connect(served, clock, transport, batch_threshold=3)
    connector.audiences()
    connector.list_changed("audience", None)
    connector.list_changed("member", None, limit=1)
    connector.upsert(item("PD-1", "one@example.org", FNAME="One", tags="client"))
    clock.advance(5)
    connector.upsert(item("PD-1", "one.new@example.org", tags="-client"))
    assert connector.find_by_canonical_id("member", ID_FIELD, "PD-1") is not None
    connector.upsert_many([item(f"B-{n}", f"b{n}@example.org", tags="client") for n in range(3)])
    connector.get("member", subscriber_hash("hand@example.org"))
    served[0].webhooks.validate = False  # no receiver here to answer Mailchimp's check
    connector.ensure_change_signals(
        "https://handoff.example/webhooks/mc", ["member"], user="handoff", password="pw"
    )

    used: set[str] = set()
    inner = 0
    for exchange in transport.exchanges:
        request = exchange.request
        path = request.url.path
        if not path.startswith("/3.0/"):
            assert path.startswith(sandbox_module.RESULTS_PATH)  # the batch results archive
            assert "authorization" not in request.headers  # never the API key elsewhere
            continue
        query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        op = check_call(request.method, path.removeprefix("/3.0"), query, bool(request.content))
        used.add(op.name)
        if op.name == "batches_api.start":
            for inner_op in json.loads(request.content)["operations"]:
                check_call(
                    inner_op["method"],
                    inner_op["path"],
                    inner_op.get("params") or {},
                    "body" in inner_op,
                )
                used.add(operation_for(inner_op["method"], inner_op["path"]).name)
                inner += 1
    assert inner >= 6
    assert {
        "lists_api.get_all_lists",
        "lists_api.get_list_members_info",
        "lists_api.get_list_member",
        "lists_api.set_list_member",
        "lists_api.update_list_member",
        "lists_api.update_list_member_tags",
        "lists_api.get_list_merge_fields",
        "lists_api.add_list_merge_field",
        "batches_api.start",
        "batches_api.status",
        "lists_api.get_list_webhooks",
        "lists_api.create_list_webhook",
    } <= used


def test_every_route_the_sandbox_answers_is_a_mailchimp_operation() -> None:
    checked = 0
    for rule in sandbox_module.URLS.iter_rules():
        if not rule.rule.startswith("/3.0/"):
            continue
        path = re.sub(r"<([^>]+)>", r"{\1}", rule.rule.removeprefix("/3.0"))
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation_for(method, concrete)
            checked += 1
    assert checked >= 10
