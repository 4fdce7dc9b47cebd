"""Starting a vendor's HTTP sandbox for a map whose system says ``base_url: sandbox``.

Each vendor package's ``VENDOR.demo_sandbox(clock, seed, state)`` returns a
:class:`DemoSandbox`: the sandbox object (for seeding and demo activity), its WSGI app, and
the credentials and options a client needs to talk to it. Given a ``state`` (what the sandbox's
``to_state()`` returned earlier) it comes back as it was instead of being seeded.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from connectors.base import ConfigError
from connectors.clock import Clock
from connectors.serving import ServedApp, serve_wsgi


def sandbox_names() -> list[str]:
    """The vendors that ship an HTTP sandbox."""
    from connectors.registry import vendors

    return sorted(name for name, vendor in vendors().items() if vendor.demo_sandbox is not None)


@dataclass
class DemoSandbox:
    sandbox: Any
    wsgi_app: Any
    credentials: dict[str, str] = field(default_factory=dict)
    # options the sandbox needs (its own workspace ids): they win over the map's
    options: dict[str, Any] = field(default_factory=dict)
    # options the map may set otherwise (the company domain in deep links)
    defaults: dict[str, Any] = field(default_factory=dict)
    # credentials that change while it runs (a rotating refresh token), read when asked
    current_credentials: Callable[[], dict[str, str]] | None = None
    # an OAuth app installed on the sandbox (its id, secret and current refresh token), for a
    # map whose auth names a refresh token where the vendor also takes a fixed token
    oauth_app: Callable[[], dict[str, str]] | None = None

    def credentials_now(self) -> dict[str, str]:
        return self.current_credentials() if self.current_credentials else dict(self.credentials)

    def credentials_for(self, names: Collection[str]) -> dict[str, str]:
        """The credentials for a map whose auth names ``names``: the installed OAuth app's
        when it names a ``refresh_token``, else :meth:`credentials_now`."""
        if "refresh_token" in names and self.oauth_app is not None:
            return self.oauth_app()
        return self.credentials_now()

    def credentials_offered(self) -> dict[str, str]:
        """Every credential a map may name for this sandbox now: the fixed ones and, where an
        OAuth app is installed, the app's id, secret and current refresh token."""
        app = self.oauth_app() if self.oauth_app is not None else {}
        return {**self.credentials_now(), **app}

    def options_for(self, given: dict[str, Any]) -> dict[str, Any]:
        """A client's options for this sandbox: its defaults, then the map's ``given``, then
        what the sandbox itself requires."""
        return {**self.defaults, **given, **self.options}

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.sandbox.to_state()
        return state


@dataclass
class RunningSandbox:
    connector: str
    demo: DemoSandbox
    served: ServedApp
    base_path: str = ""  # under a shared server: ``/xero``
    owns_server: bool = True

    @property
    def url(self) -> str:
        return self.served.url + self.base_path

    def shutdown(self) -> None:
        if self.owns_server:
            self.served.shutdown()


def demo_sandbox(
    connector: str, clock: Clock, *, seed: str = "", state: dict[str, Any] | None = None
) -> DemoSandbox:
    """``connector``'s sandbox object, seeded with ``seed`` or restored from ``state``."""
    from connectors.registry import vendors

    found = vendors().get(connector)
    if found is None or found.demo_sandbox is None:
        raise ConfigError(f"connector {connector!r} has no built-in sandbox")
    return found.demo_sandbox(clock, seed, state)


def start_sandbox(connector: str, clock: Clock, *, seed: str = "") -> RunningSandbox:
    """Serve ``connector``'s sandbox on 127.0.0.1 (a free port)."""
    demo = demo_sandbox(connector, clock, seed=seed)
    return RunningSandbox(connector, demo, serve_wsgi(demo.wsgi_app))
