"""``handoff sandbox ...``: the built-in vendor sandboxes as one long-lived process.

``serve`` answers for Pipedrive, Xero and Asana on 127.0.0.1, each under its own base path,
keeping their records in a state file so a restart (and every command pointed at it) sees the
same world. ``token`` prints what a map needs to reach one of them right now.
"""

from __future__ import annotations

import json
import signal
import threading
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console

from bot import render
from connectors.asana.limits import requests_per_minute
from connectors.clock import SystemClock
from connectors.sandbox_host import INFO_PATH, SandboxHost
from connectors.sandboxes import sandbox_names

sandbox_app = typer.Typer(
    help="The built-in vendor sandboxes as one long-lived process.", no_args_is_help=True
)
out = Console(highlight=False, soft_wrap=True)

DEFAULT_STATE = Path("handoff-sandboxes.json")


def env_name(vendor: str, key: str) -> str:
    """The variable a map's ``env:`` reference names for a sandbox credential
    (``XERO_REFRESH_TOKEN``), as the demo map spells them."""
    return f"{vendor}_{key}".upper()


@sandbox_app.command("serve")
def serve(
    vendors: Annotated[
        list[str] | None,
        typer.Argument(help="Which vendors' sandboxes (default: every vendor that has one)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind (keep 127.0.0.1).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: a free one).")] = 0,
    state: Annotated[
        Path, typer.Option("--state", help="Where the sandboxes' records are kept.")
    ] = DEFAULT_STATE,
    seed: Annotated[
        str,
        typer.Option(
            "--seed", help="What new sandboxes hold: agency, agency-review or accounting."
        ),
    ] = "agency",
    asana_plan: Annotated[
        str, typer.Option("--asana-plan", help="Asana's quota to enforce: free or paid.")
    ] = "free",
) -> None:
    """Serve the vendor sandboxes in one process until stopped; their records survive."""
    from bot.cli import clean_errors_call

    def run() -> None:
        chosen = list(vendors or sandbox_names())
        sandbox_host = SandboxHost(chosen, SystemClock(), state_file=state, seed=seed)
        if "asana" in sandbox_host.demos:
            sandbox_host.demos["asana"].sandbox.quota = requests_per_minute(asana_plan)
        sandbox_host.serve(host, port)
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        how = "restored" if sandbox_host.restored else "new: seeded with the demo data"
        out.print(f"sandboxes serving on {sandbox_host.url} (state {state}, {how})")
        _describe(sandbox_host.info(sandbox_host.url))
        out.print("stop with Ctrl-C; the state is saved after every write and on stop")
        stop.wait()
        sandbox_host.close()
        out.print("sandboxes stopped, state saved")

    clean_errors_call(run)


@sandbox_app.command("token")
def token(
    system: Annotated[str, typer.Argument(help="The sandbox: pipedrive, xero or asana.")],
    url: Annotated[str, typer.Option("--url", help="Where `handoff sandbox serve` answers.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print data as JSON.")] = False,
) -> None:
    """The credentials a map needs for one served sandbox now (Xero's refresh token rotates)."""
    from bot.cli import clean_errors_call

    def run() -> None:
        info = fetch_info(url)
        entry = info["vendors"].get(system)
        if entry is None:
            raise LookupError(f"{url} serves no {system} sandbox")
        if as_json:
            credentials = entry["credentials"].items()
            render.print_json(out, {env_name(system, key): value for key, value in credentials})
            return
        for key, value in entry["credentials"].items():
            out.print(f"export {env_name(system, key)}={value}")

    clean_errors_call(run)


def fetch_info(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """What a running ``sandbox serve`` says about itself (base URLs, credentials, options)."""
    with urllib.request.urlopen(url.rstrip("/") + INFO_PATH, timeout=timeout) as response:
        info: dict[str, Any] = json.loads(response.read())
    return info


def _describe(info: dict[str, Any]) -> None:
    for vendor, entry in info["vendors"].items():
        out.print(f"{vendor}: base_url: {entry['base_url']}")
        for key, value in entry["credentials"].items():
            out.print(f"  export {env_name(vendor, key)}={value}")
        if entry["options"]:
            options = ", ".join(f"{k}: {json.dumps(v)}" for k, v in entry["options"].items())
            out.print(f"  options: {{{options}}}")


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
