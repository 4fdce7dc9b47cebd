"""``handoff serve``: the Slack bot and the scheduler in one process.

With ``SLACK_APP_TOKEN`` the bot connects by Socket Mode (no public URL); otherwise Slack
posts to ``/slack/events``, whose signatures are checked with ``SLACK_SIGNING_SECRET``.
``GET /healthz`` reports the database and the scheduler either way.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine as DbEngine
from sqlalchemy import text
from werkzeug.serving import BaseWSGIServer, make_server

from bot.bootstrap import Runtime, build_runtime
from bot.handlers.context import HandlerContext
from bot.http_guard import RequestGuard
from bot.settings import Settings
from bot.slack.alert_sender import AlertSender
from bot.slack.app import build_app, web_client
from bot.slack.deferred_sink import DeferredSink
from bot.slack.pacer import ChannelPacer
from bot.slack.services import SlackServices
from bot.stopping import stop_on_signals, wait_until
from bot.webhooks import WebhookReceiver
from connectors.clock import Clock, SystemClock
from connectors.serving import QuietRequestHandler
from sync_core.alert_outbox import OutboxSink, enqueue_unsent
from sync_core.alert_watch import watch_alerts
from sync_core.scheduler import LeaderLock, SyncScheduler
from sync_core.store.db import unavailable

EVENTS_PATH = "/slack/events"
WEBHOOK_PREFIX = "/webhooks/"
ALERT_WATCH_EVERY = timedelta(minutes=1)
ALERT_SEND_EVERY = timedelta(seconds=1)


class GuardedRequestHandler(QuietRequestHandler):
    """A client that stops sending mid-request is dropped instead of holding a thread."""

    timeout = 30


class ServeError(RuntimeError):
    """Start-up cannot go on (a token missing or rejected); the message is one line."""


def check_settings(settings: Settings) -> None:
    if not settings.slack_bot_token:
        raise ServeError("SLACK_BOT_TOKEN is not set: give the bot token (xoxb-…) of your app")
    if not settings.slack_app_token and not settings.slack_signing_secret:
        raise ServeError(
            "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify Slack's requests "
            "(or set SLACK_APP_TOKEN for Socket Mode)"
        )


def check_token(client: WebClient) -> dict[str, Any]:
    """``auth.test``: a rejected or unreachable token stops start-up with one line."""
    try:
        return dict(client.auth_test().data)  # type: ignore[arg-type]
    except SlackApiError as exc:
        raise ServeError(f"Slack rejected SLACK_BOT_TOKEN ({exc.response.get('error')})") from None
    except OSError as exc:
        raise ServeError(f"cannot reach the Slack Web API: {exc}") from None


def check_app_token(client: WebClient, app_token: str) -> None:
    """Socket Mode's client retries a refused token forever; ask once first, and stop."""
    try:
        client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise ServeError(f"Slack rejected SLACK_APP_TOKEN ({exc.response.get('error')})") from None


@dataclass
class BotServer:
    runtime: Runtime
    app: App
    scheduler: SyncScheduler
    http: BaseWSGIServer
    socket: SocketModeHandler | None = None
    team: str = ""
    webhooks: WebhookReceiver | None = None
    alert_sender: AlertSender | None = None  # run by the scheduler on the leader only
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.http.host}:{self.http.port}"

    @property
    def mode(self) -> str:
        return "socket" if self.socket is not None else "http"

    def start(self) -> None:
        if self.socket is not None:
            self.socket.connect()
        thread = threading.Thread(
            target=self.http.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        thread.start()
        self._threads.append(thread)
        self.scheduler.start()
        if self.webhooks is not None:
            self.webhooks.subscribe_all(self.url)

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        if self.socket is not None:
            self.socket.close()
        self.scheduler.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)
        self.runtime.close()

    def health(self) -> dict[str, Any]:
        database = database_health(self.runtime.db)
        return {
            "ok": database == "ok" and self.scheduler.running,
            "mode": self.mode,
            "database": database,
            "scheduler": {"running": self.scheduler.running, "jobs": self.scheduler.jobs()},
        }


def database_health(db: DbEngine) -> str:
    """``ok``, or ``error: `` and why the database cannot be used, in one line."""
    try:
        with db.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # the report must answer even when the database does not
        return f"error: {unavailable(exc) or type(exc).__name__}"
    return "ok"


def _wsgi(server_ref: Callable[[], BotServer], bolt: SlackRequestHandler | None) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz" and environ.get("REQUEST_METHOD") == "GET":
            report = server_ref().health()
            status = "200 OK" if report["ok"] else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(report).encode()]
        if bolt is not None and path == EVENTS_PATH:
            return bolt(environ, start_response)
        receiver = server_ref().webhooks
        method = environ.get("REQUEST_METHOD")
        if receiver is not None and path.startswith(WEBHOOK_PREFIX) and method in ("GET", "POST"):
            system, query = path.removeprefix(WEBHOOK_PREFIX), environ.get("QUERY_STRING", "")
            if method == "GET":
                answer = receiver.validate(system, query)
            else:
                # RequestGuard has read the body already, within its cap.
                answer = receiver.handle(
                    system,
                    environ.get("HTTP_AUTHORIZATION", ""),
                    environ["wsgi.input"].read(),
                    query=query,
                    content_type=environ.get("CONTENT_TYPE", ""),
                )
            reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
            start_response(
                f"{answer.status} {reason.get(answer.status, '')}",
                [("Content-Type", "application/json")],
            )
            return [json.dumps(answer.body).encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return app


def build_server(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    clock: Clock | None = None,
    on_report: Callable[[str, Any], None] | None = None,
) -> BotServer:
    """Check the tokens, build the runtime, the Bolt app, the scheduler and the HTTP server."""
    check_settings(settings)
    assert settings.slack_bot_token is not None
    client = web_client(settings.slack_bot_token, settings.slack_api_url)
    identity = check_token(client)
    if settings.slack_app_token:
        check_app_token(client, settings.slack_app_token)
    sink = DeferredSink()
    runtime = build_runtime(
        settings, alert_sink=sink, clock=clock, auto_upgrade=True, adopt_map=True
    )
    try:
        # The engine and the handlers only write outbox rows; one sender on the leader sends.
        outbox = OutboxSink(runtime.uow_factory, runtime.clock)
        sink.target = outbox
        sender = AlertSender(
            client, runtime.uow_factory, runtime.map, runtime.clock, ChannelPacer(SystemClock())
        )
        context = HandlerContext(runtime.map, runtime.uow_factory, runtime.engine, runtime.clock)
        socket_mode = bool(settings.slack_app_token)
        app = build_app(
            SlackServices(context),
            client=client,
            signing_secret=settings.slack_signing_secret,
            socket_mode=socket_mode,
        )
        scheduler = SyncScheduler(
            runtime.engine,
            LeaderLock(runtime.db),
            on_report=on_report,
            exchange_log=runtime.exchange_log,
        )

        def watch() -> None:
            watch_alerts(runtime.uow_factory, runtime.map, runtime.clock, sink)
            enqueue_unsent(runtime.uow_factory, runtime.clock)

        scheduler.add_leader_job(watch, ALERT_WATCH_EVERY, "alerts")
        scheduler.add_leader_job(sender.send_due, ALERT_SEND_EVERY, "alert-sender")
        socket = (
            SocketModeHandler(app, settings.slack_app_token, web_client=client)
            if socket_mode
            else None
        )
        holder: list[BotServer] = []
        bolt = None if socket_mode else SlackRequestHandler(app, path=EVENTS_PATH)
        guarded = RequestGuard(
            _wsgi(lambda: holder[0], bolt),
            signing_secret=None if socket_mode else settings.slack_signing_secret,
            slack_path=EVENTS_PATH,
        )
        http = make_server(
            host, port, guarded, threaded=True, request_handler=GuardedRequestHandler
        )
    except BaseException:
        runtime.close()
        raise
    server = BotServer(
        runtime,
        app,
        scheduler,
        http,
        socket,
        str(identity.get("team", "")),
        WebhookReceiver(runtime, scheduler),
        sender,
    )
    holder.append(server)
    return server


def serve(
    config: Path | None,
    *,
    host: str,
    port: int,
    http_log: Path | None,
    say: Callable[[str], None],
) -> None:
    """Run until Ctrl-C or SIGTERM, then stop gracefully (see :mod:`bot.stopping`)."""
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    settings = Settings.from_env(map_path=config, http_log=http_log)
    with stop_on_signals():
        server = build_server(settings, host=host, port=port)
        try:
            server.start()
            if server.runtime.map_note:
                say(server.runtime.map_note)
            say(f"Handoff serving {server.runtime.map.name} for Slack team {server.team or '?'}")
            if server.mode == "socket":
                say(f"connected by Socket Mode; health at {server.url}/healthz")
            else:
                say(f"listening on {server.url}{EVENTS_PATH} (health at {server.url}/healthz)")
            wait_until(threading.Event())
        except KeyboardInterrupt:
            say("stopping: finishing the work in flight and releasing the rest")
        finally:
            server.stop()
        say("stopped")
