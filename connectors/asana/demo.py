"""The Asana sandbox as the demo uses it: one workspace, one team, one hand-made project."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.clock import Clock
from connectors.sandbox.seed import AGENCY_SEEDS, demo_start
from connectors.sandbox.store import SandboxStore
from connectors.sandboxes import DemoSandbox

from .sandbox import AsanaSandbox

DEMO_TOKEN = "sandbox-asana-token"


def demo_sandbox(clock: Clock, seed: str, state: dict[str, Any] | None = None) -> DemoSandbox:
    """The demo sandbox: seeded when new, or as ``state`` left it."""
    sandbox = AsanaSandbox(clock, tokens=[DEMO_TOKEN])
    if state is not None:
        sandbox.from_state(state)
        workspace = next(iter(sandbox.state.workspaces))
        team = next(g for g, t in sandbox.state.teams.items() if t["workspace"] == workspace)
        return _demo(sandbox, workspace, team)
    workspace = sandbox.add_workspace("Agency")
    team = sandbox.add_team(workspace, "Delivery")
    if seed in AGENCY_SEEDS:
        # Made by hand from the deal before Handoff existed: no canonical ID on it.
        sandbox.add_project(
            team, "Acme – Website Redesign (old board)", notes="Created by hand from the deal"
        )
    return _demo(sandbox, workspace, team)


def seed_in_process(seed: str, store: SandboxStore, now: datetime) -> None:
    """The agency's hand-made project, for the in-process sandbox (nothing for other seeds)."""
    if seed not in AGENCY_SEEDS:
        return
    gid = "1200000000000101"
    fields = {
        "gid": gid,
        "name": "Acme – Website Redesign (old board)",
        "notes": "Created by hand from the deal",
        "archived": False,
    }
    store.put("project", gid, fields, demo_start(now))


def _demo(sandbox: AsanaSandbox, workspace: str, team: str) -> DemoSandbox:
    return DemoSandbox(
        sandbox=sandbox,
        wsgi_app=sandbox.wsgi_app,
        credentials={"token": DEMO_TOKEN},
        options={"workspace": workspace, "team": team},
    )
