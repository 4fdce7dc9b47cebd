"""Starting a vendor's HTTP sandbox for a map whose system says ``base_url: sandbox``."""

from __future__ import annotations

import importlib
from typing import Any

from connectors.base import ConfigError
from connectors.clock import Clock
from connectors.serving import ServedApp

# connector name -> "module:function(clock, seed) -> (wsgi app, credentials, options)"
SANDBOXES: dict[str, str] = {
    "pipedrive": "connectors.pipedrive.demo:demo_sandbox",
    "xero": "connectors.xero.demo:demo_sandbox",
    "asana": "connectors.asana.demo:demo_sandbox",
}


def start_sandbox(
    connector: str, clock: Clock, *, seed: str = ""
) -> tuple[ServedApp, dict[str, str], dict[str, Any]]:
    """Serve ``connector``'s sandbox on 127.0.0.1 and return it with the credentials and
    options a client needs to talk to it."""
    from connectors.serving import serve_wsgi

    target = SANDBOXES.get(connector)
    if target is None:
        raise ConfigError(f"connector {connector!r} has no built-in sandbox")
    module_name, _, func = target.partition(":")
    factory = getattr(importlib.import_module(module_name), func)
    app, credentials, options = factory(clock, seed)
    return serve_wsgi(app), credentials, options
