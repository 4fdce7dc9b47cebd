"""A fake Slack Web API on 127.0.0.1: records every call and answers like Slack does.

Besides ``/api/<method>`` it serves response URLs (``/response/<id>``), the upload URLs of the
three-step file upload (``/upload/<file id>``, whose bytes land in ``uploads``) and, for Socket
Mode, answers ``apps.connections.open`` with a WebSocket URL the test sets.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from bot.settings import Settings
from connectors.serving import ServedApp, serve_wsgi
from tests.e2e.signing import SECRET

JSON_FIELDS = ("blocks", "view", "attachments", "metadata", "files")


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    path: str = ""
    at: float = field(default_factory=time.monotonic)  # when the call arrived

    @property
    def text(self) -> str:
        """Everything a person would read: the text and every block, as one string."""
        return json.dumps(self.body, ensure_ascii=False)


@dataclass
class FakeSlack:
    token: str = "xoxb-test-token"
    app_token: str = "xapp-test-token"
    socket_url: str | None = None
    usergroups: list[dict[str, Any]] = field(default_factory=list)
    # the bot token's scopes, sent as Slack does in ``x-oauth-scopes`` (None: not sent)
    scopes: list[str] | None = None
    calls: list[Call] = field(default_factory=list)
    served: ServedApp | None = None

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._ts = itertools.count(1)
        self.failing: dict[str, str] = {}  # method -> Slack error it answers with
        self.uploads: dict[str, bytes] = {}  # file id -> the bytes uploaded to its URL
        self._file_ids = itertools.count(1)
        # method -> seconds: answered HTTP 429 with ``Retry-After``, as Slack rate-limits
        self.rate_limited: dict[str, int] = {}
        self.latency = 0.0  # seconds every answer takes (a slow Slack)
        self.held: dict[str, threading.Event] = {}  # method -> answered once the event is set

    # ---- serving -----------------------------------------------------------------------

    def start(self) -> FakeSlack:
        self.served = serve_wsgi(self._wsgi)
        return self

    def stop(self) -> None:
        if self.served is not None:
            self.served.shutdown()

    @property
    def url(self) -> str:
        assert self.served is not None
        return self.served.url

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def settings(self, map_path: Path, database_url: str, **options: Any) -> Settings:
        """The bot's settings for talking to this fake over HTTP, requests signed with
        :data:`SECRET`; ``options`` as :meth:`Settings.from_env` takes them."""
        env = {
            "SLACK_BOT_TOKEN": self.token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": self.api_url,
        }
        return Settings.from_env(env, map_path=map_path, database_url=database_url, **options)

    def response_url(self, key: str = "r1") -> str:
        return f"{self.url}/response/{key}"

    # ---- what the bot did --------------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self, predicate: Callable[[list[Call]], Any], timeout: float = 5.0, what: str = ""
    ) -> Any:
        """Wait until ``predicate(calls)`` is truthy; return its value."""
        with self._cond:
            result = self._cond.wait_for(lambda: predicate(list(self.calls)), timeout=timeout)
            if not result:
                methods = [c.method for c in self.calls]
                raise AssertionError(f"timed out waiting for {what or predicate}; calls: {methods}")
            return result

    def wait_call(self, method: str, count: int = 1, timeout: float = 5.0) -> Call:
        """The ``count``-th call of ``method`` once it has happened."""
        calls = self.wait_for(
            lambda cs: [c for c in cs if c.method == method][count - 1 :] or None,
            timeout,
            f"{count} x {method}",
        )
        return calls[0]

    def web_api_calls(self) -> list[Call]:
        return [c for c in self.of_all() if c.method != "auth.test"]

    def of_all(self) -> list[Call]:
        with self._cond:
            return list(self.calls)

    # ---- the WSGI app ------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        path = request.path
        if path.startswith("/upload/"):
            return self._upload(request, path.removeprefix("/upload/"))(environ, start_response)
        body = _body(request)
        method = path.removeprefix("/api/") if path.startswith("/api/") else "response_url"
        with self._cond:
            self.calls.append(Call(method, body, dict(request.headers), path))
            self._cond.notify_all()
        if method in self.held:
            self.held[method].wait(30)
        if self.latency:
            time.sleep(self.latency)  # the fake's own answer time, not a test's wait
        if method in self.rate_limited:
            return Response(
                json.dumps({"ok": False, "error": "ratelimited"}),
                status=429,
                headers={"Retry-After": str(self.rate_limited[method])},
                content_type="application/json",
            )(environ, start_response)
        if method == "response_url":
            return Response("ok")(environ, start_response)
        answer = self._answer(method, body, request.headers.get("Authorization", ""))
        headers = {} if self.scopes is None else {"x-oauth-scopes": ",".join(self.scopes)}
        return Response(json.dumps(answer), content_type="application/json", headers=headers)(
            environ, start_response
        )

    def _upload(self, request: Request, file_id: str) -> Response:
        """Step two of a file upload: the bytes, posted to the URL step one handed out."""
        data = request.get_data()
        with self._cond:
            self.uploads[file_id] = data
            self.calls.append(Call("file_upload", {"file_id": file_id, "length": len(data)}, {}))
            self._cond.notify_all()
        return Response(f"OK - {len(data)}", content_type="text/plain")

    def _answer(self, method: str, body: dict[str, Any], auth: str) -> dict[str, Any]:
        token = auth.removeprefix("Bearer ") or str(body.get("token") or "")
        if method == "apps.connections.open":
            if token != self.app_token or not self.socket_url:
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": self.socket_url}
        if token != self.token:
            return {"ok": False, "error": "invalid_auth"}
        if method in self.failing:
            return {"ok": False, "error": self.failing[method]}
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://handoff-test.slack.com/",
                "team": "Handoff Test",
                "user": "handoff",
                "team_id": "T0TEST",
                "user_id": "U0BOT",
                "bot_id": "B0BOT",
            }
        if method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            channel = _channel_id(str(body.get("channel")))
            return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method in ("views.publish", "views.open", "views.update"):
            return {"ok": True, "view": {"id": "V0VIEW"}}
        if method == "files.getUploadURLExternal":
            file_id = f"F0FILE{next(self._file_ids):04d}"
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = body.get("files") or []
            return {
                "ok": True,
                "files": [{"id": f.get("id"), "title": f.get("title")} for f in files],
            }
        if method == "usergroups.list":
            return {"ok": True, "usergroups": self.usergroups}
        return {"ok": True}


def _channel_id(channel: str) -> str:
    """Slack answers with the channel's ID even when given its name."""
    if channel.startswith("#"):
        return "C" + channel[1:].upper().replace("-", "")[:10]
    return channel


def _body(request: Request) -> dict[str, Any]:
    raw = request.get_data(as_text=True)
    if request.mimetype == "application/json":
        loaded = json.loads(raw or "{}")
        return loaded if isinstance(loaded, dict) else {"value": loaded}
    body: dict[str, Any] = {k: v[0] for k, v in parse_qs(raw).items()}
    for key in JSON_FIELDS:
        if isinstance(body.get(key), str):
            with contextlib.suppress(ValueError):
                body[key] = json.loads(body[key])
    return body
