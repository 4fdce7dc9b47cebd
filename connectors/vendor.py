"""What a vendor package provides: one :class:`Vendor` object named ``VENDOR`` in its
``__init__``. The registry finds it by scanning packages (:mod:`connectors.registry`); adding a
vendor edits no shared file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.base import ConfigError, Connector, ConnectorSettings
from connectors.record_types import RecordType

if TYPE_CHECKING:
    from connectors.clock import Clock
    from connectors.registry import ConnectorContext
    from connectors.sandbox.store import SandboxStore
    from connectors.sandboxes import DemoSandbox

__all__ = ["Vendor"]


def _no_web_app(options: Mapping[str, Any]) -> str:
    return ""


def _same_id(serial: str) -> str:
    return serial


@dataclass(frozen=True)
class Vendor:
    """One vendor, declared: everything Handoff needs to know of it outside its own package."""

    name: str  # the map's ``connector:`` value
    record_types: Mapping[str, RecordType]
    # builds the connector from a system block with secrets resolved
    build: Callable[[ConnectorSettings, ConnectorContext], Connector]
    # the web app's root for deep links, from the system's options
    web_url: Callable[[Mapping[str, Any]], str] = _no_web_app
    # the demo sandbox (served over HTTP): ``demo_sandbox(clock, seed, state)``
    demo_sandbox: Callable[[Clock, str, dict[str, Any] | None], DemoSandbox] | None = None
    # options the demo's system block carries (deep links of the in-process sandbox use them)
    demo_options: Mapping[str, Any] = field(default_factory=dict)
    # the demo's records, by seed name (agency, accounting), for the in-process sandbox
    # emulating this vendor: ``seed(name, store, now)``
    seed: Callable[[str, SandboxStore, datetime], None] | None = None
    # the vendor merges two records of a type (the in-process sandbox then can too)
    merges: bool = False
    # the vendor's id for the in-process sandbox's n-th record (Xero's are UUIDs)
    sandbox_id: Callable[[str], str] = _same_id

    def record_type(self, name: str) -> RecordType:
        spec = self.record_types.get(name)
        if spec is None:
            known = ", ".join(sorted(self.record_types))
            raise ConfigError(f"{self.name} has no record type {name!r} (it has {known})")
        return spec

    def deep_link(
        self,
        record_type: str,
        external_id: str,
        options: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> str:
        """A record's address in the vendor's web app, from its declared template (the web
        app's root when the template needs a field of the record that ``fields`` lacks)."""
        root = self.web_url(options or {})
        path = self.record_type(record_type).link(external_id, options, fields)
        return root if path is None else root + path
