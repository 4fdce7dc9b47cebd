"""Faults are switched from outside a sandbox's process over HTTP (the demo, a curl)."""

from __future__ import annotations

import httpx

from connectors.clock import FrozenClock
from connectors.faults import CONTROL_PATH
from connectors.xero.sandbox import XeroSandbox


def test_faults_are_armed_listed_and_cleared_over_http() -> None:
    sandbox = XeroSandbox(FrozenClock())
    served = sandbox.serve()
    try:
        control = served.url + CONTROL_PATH
        armed = httpx.post(control, json={"kind": "server_error", "times": 2, "path": "/Contacts"})
        assert armed.status_code == 200
        assert [f["kind"] for f in armed.json()["armed"]] == ["server_error"]
        assert httpx.get(served.url + "/api.xro/2.0/Contacts").status_code == 503
        assert httpx.post(control, json={"kind": "meteor"}).status_code == 400
        assert httpx.delete(control).json() == {"armed": []}
        assert httpx.get(control).json() == {"armed": []}
    finally:
        served.shutdown()
