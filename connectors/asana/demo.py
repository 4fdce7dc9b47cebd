"""The Asana sandbox as the demo uses it: one workspace, one team, one hand-made project."""

from __future__ import annotations

from connectors.clock import Clock
from connectors.sandboxes import DemoSandbox

from .sandbox import AsanaSandbox

DEMO_TOKEN = "sandbox-asana-token"


def demo_sandbox(clock: Clock, seed: str) -> DemoSandbox:
    sandbox = AsanaSandbox(clock, tokens=[DEMO_TOKEN])
    workspace = sandbox.add_workspace("Agency")
    team = sandbox.add_team(workspace, "Delivery")
    if seed == "agency":
        # Made by hand from the deal before Handoff existed: no canonical ID on it.
        sandbox.add_project(
            team, "Acme – Website Redesign (old board)", notes="Created by hand from the deal"
        )
    return DemoSandbox(
        sandbox=sandbox,
        wsgi_app=sandbox.wsgi_app,
        credentials={"token": DEMO_TOKEN},
        options={"workspace": workspace, "team": team},
    )
