"""Starting a vendor's HTTP sandbox for a map whose system says ``base_url: sandbox``.

Each vendor package has a ``demo`` module whose ``demo_sandbox(clock, seed)`` returns a
:class:`DemoSandbox`: the sandbox object (for seeding and demo activity), its WSGI app, and the
credentials and options a client needs to talk to it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from connectors.base import ConfigError
from connectors.clock import Clock
from connectors.serving import ServedApp, serve_wsgi

SANDBOXES: dict[str, str] = {
    "pipedrive": "connectors.pipedrive.demo:demo_sandbox",
    "xero": "connectors.xero.demo:demo_sandbox",
    "asana": "connectors.asana.demo:demo_sandbox",
}


@dataclass
class DemoSandbox:
    sandbox: Any
    wsgi_app: Any
    credentials: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunningSandbox:
    connector: str
    demo: DemoSandbox
    served: ServedApp

    @property
    def url(self) -> str:
        return self.served.url

    def shutdown(self) -> None:
        self.served.shutdown()


def start_sandbox(connector: str, clock: Clock, *, seed: str = "") -> RunningSandbox:
    """Serve ``connector``'s sandbox on 127.0.0.1 (a free port)."""
    target = SANDBOXES.get(connector)
    if target is None:
        raise ConfigError(f"connector {connector!r} has no built-in sandbox")
    module_name, _, func = target.partition(":")
    factory = getattr(importlib.import_module(module_name), func)
    demo: DemoSandbox = factory(clock, seed)
    return RunningSandbox(connector, demo, serve_wsgi(demo.wsgi_app))
