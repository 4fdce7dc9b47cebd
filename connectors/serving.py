"""Serving a WSGI sandbox on 127.0.0.1 in a background thread (tests and the demo)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


@dataclass
class ServedApp:
    url: str
    server: BaseWSGIServer
    thread: threading.Thread

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class QuietRequestHandler(WSGIRequestHandler):
    """No access log line per request: the exchange log is where traffic is recorded."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def serve_wsgi(app: Any, host: str = "127.0.0.1", port: int = 0) -> ServedApp:
    """Serve ``app`` on ``host:port`` (port 0: the OS picks) with one thread per request."""
    server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"wsgi-{server.port}",
        daemon=True,
    )
    thread.start()
    return ServedApp(url=f"http://{host}:{server.port}", server=server, thread=thread)
