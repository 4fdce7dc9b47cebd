"""The vendor sandboxes as one long-lived HTTP server whose records survive a restart.

Each vendor answers under its own base path (``/pipedrive``, ``/xero``, ``/asana``) with its
fault switch at ``/<vendor>/_sandbox/faults``; ``GET /_sandbox/info`` gives each vendor's base
URL, credentials and options. The state file is replaced atomically (temporary file, then
rename) a moment after each request that may have changed something, and on close; it is read
back at start. A vendor the file does not know yet gets the demo seed.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from connectors.base import ConfigError
from connectors.clock import Clock
from connectors.sandboxes import DemoSandbox, RunningSandbox, demo_sandbox, sandbox_names
from connectors.serving import ServedApp, serve_wsgi

STATE_VERSION = 1
INFO_PATH = "/_sandbox/info"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEBOUNCE_SECONDS = 0.2


class SandboxHost:
    def __init__(
        self,
        vendors: Sequence[str],
        clock: Clock,
        *,
        state_file: Path | None = None,
        seed: str = "agency",
        debounce: float = DEBOUNCE_SECONDS,
    ) -> None:
        unknown = sorted(set(vendors) - set(sandbox_names()))
        if unknown:
            raise ConfigError(
                f"no built-in sandbox for {', '.join(unknown)}; choose from "
                f"{', '.join(sandbox_names())}"
            )
        self.state_file = state_file
        self.debounce = debounce
        saved = self._load()
        self.restored = sorted(set(saved) & set(vendors))
        self.demos: dict[str, DemoSandbox] = {
            vendor: demo_sandbox(vendor, clock, seed=seed, state=saved.get(vendor))
            for vendor in vendors
        }
        # vendors in the file that this process does not serve are kept as they were
        self._others = {k: v for k, v in saved.items() if k not in self.demos}
        self.saves = 0
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._save_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self.served: ServedApp | None = None

    @property
    def url(self) -> str:
        if self.served is None:
            raise RuntimeError("the sandbox host is not serving")
        return self.served.url

    def base_url(self, vendor: str) -> str:
        return f"{self.url}/{vendor}"

    def running(self, vendor: str) -> RunningSandbox:
        """``vendor``'s sandbox as a map's system sees it (the server stays the host's)."""
        if self.served is None:
            raise RuntimeError("the sandbox host is not serving")
        return RunningSandbox(
            vendor, self.demos[vendor], self.served, base_path=f"/{vendor}", owns_server=False
        )

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ServedApp:
        """Start answering on ``host:port`` (0: a free port) and keeping the state file."""
        self.served = serve_wsgi(self.wsgi_app, host, port)
        if self.state_file is not None:
            self.save()  # a new file exists (seeded) from the first moment
            self._flusher = threading.Thread(
                target=self._flush_loop, name="sandbox-state", daemon=True
            )
            self._flusher.start()
        return self.served

    def close(self) -> None:
        """Stop serving, then write the state one last time."""
        if self.served is not None:
            self.served.shutdown()
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        if self.state_file is not None:
            self.save()

    # -- the state file -------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        if self.state_file is None or not self.state_file.exists():
            return {}
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"sandbox state file {self.state_file} is not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ConfigError(f"sandbox state file {self.state_file} has an unknown format")
        vendors: dict[str, Any] = data.get("vendors") or {}
        return vendors

    def save(self) -> None:
        """Replace the state file atomically with every sandbox's current state."""
        if self.state_file is None:
            return
        with self._save_lock:
            vendors = {**self._others, **{v: d.to_state() for v, d in self.demos.items()}}
            text = json.dumps({"version": STATE_VERSION, "vendors": vendors})
            path = self.state_file
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            # owner-only: the file holds the sandboxes' tokens
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            self.saves += 1

    def _flush_loop(self) -> None:
        while not self._stop.is_set():
            if not self._dirty.wait(timeout=0.5):
                continue
            # let a burst of writes settle into one save
            self._stop.wait(self.debounce)
            self._dirty.clear()
            self.save()

    # -- HTTP -----------------------------------------------------------------------------

    def info(self, root: str) -> dict[str, Any]:
        return {
            "url": root,
            "vendors": {
                vendor: {
                    "base_url": f"{root}/{vendor}",
                    "credentials": demo.credentials_offered(),
                    "options": demo.options_for({}),
                }
                for vendor, demo in self.demos.items()
            },
        }

    def wsgi_app(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == INFO_PATH and environ.get("REQUEST_METHOD") == "GET":
            root = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
            return _json(start_response, "200 OK", self.info(root))
        vendor, _, rest = path.lstrip("/").partition("/")
        demo = self.demos.get(vendor)
        if demo is None:
            known = ", ".join(f"/{v}" for v in self.demos)
            return _json(start_response, "404 Not Found", {"error": f"no sandbox here; {known}"})
        environ["SCRIPT_NAME"] = f"{environ.get('SCRIPT_NAME', '')}/{vendor}"
        environ["PATH_INFO"] = f"/{rest}"
        try:
            result: Iterable[bytes] = demo.wsgi_app(environ, start_response)
            return result
        finally:
            if environ.get("REQUEST_METHOD") in WRITES:
                self._dirty.set()


def _json(start_response: Callable[..., Any], status: str, body: Any) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]
