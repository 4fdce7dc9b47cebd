"""``handoff init``: ask which systems to connect, discover them, write a starter map.

Non-interactive when the systems are given (``--system``) or found in the environment (a
vendor whose credential variables are all set) and standard input is not a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.init_map import SystemChoice, plan_entities, starter_map

out = Console()
err = Console(stderr=True, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init_command)


def vendors() -> list[str]:
    from connectors.sandboxes import sandbox_names

    return sandbox_names()


def needs(connector: str) -> tuple[dict[str, str], list[str]]:
    """(credential key -> environment variable, option names) a vendor's connector takes, as
    its built-in sandbox hands them out."""
    from connectors.clock import SystemClock
    from connectors.sandboxes import demo_sandbox

    demo = demo_sandbox(connector, SystemClock())
    credentials = {key: f"{connector}_{key}".upper() for key in demo.credentials}
    return credentials, sorted(demo.options)


def choose_systems(
    given: list[str], sandbox: bool, env: Mapping[str, str], interactive: bool
) -> list[str]:
    known = vendors()
    if not given:
        ready = [v for v in known if all(env.get(var) for var in needs(v)[0].values())]
        if interactive:
            answer = typer.prompt(
                f"Which systems should Handoff connect? ({', '.join(known)})",
                default=", ".join(ready or known),
            )
            given = [part.strip() for part in answer.replace(" ", ",").split(",") if part.strip()]
        elif sandbox:
            given = known
        else:
            given = ready
    if not given:
        raise ValueError(
            "no systems: give --system NAME (one of " + ", ".join(known) + ") or set a "
            "vendor's credential variables"
        )
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"unknown system {', '.join(unknown)}; known: {', '.join(known)}")
    return list(dict.fromkeys(given))


def init_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the map.")] = Path(
        "integration.yaml"
    ),
    systems: Annotated[
        list[str] | None,
        typer.Option(
            "--system", "-s", help="A system to connect (repeat): pipedrive, xero, asana."
        ),
    ] = None,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Use the built-in sandboxes instead of the real APIs.")
    ] = False,
    seed: Annotated[str, typer.Option("--seed", help="The sandboxes' demo data.")] = "agency",
    name: Annotated[str, typer.Option("--name", help="The map's name.")] = "Our integration",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    ask: Annotated[
        bool | None,
        typer.Option("--ask/--no-ask", help="Ask for what is missing (default: on a terminal)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was written as JSON.")
    ] = False,
) -> None:
    """Ask which systems to connect, read them, and write a commented starter map."""
    from bot.cli import clean_errors_call

    def run() -> None:
        if output.exists() and not force:
            raise ValueError(f"{output} exists: choose another --output or pass --force")
        interactive = ask if ask is not None else sys.stdin.isatty() and not as_json
        chosen = choose_systems(list(systems or []), sandbox, os.environ, interactive)
        choices = []
        for vendor in chosen:
            credentials, option_names = needs(vendor)
            options: dict[str, object] = {}
            if not sandbox:
                for option in option_names:
                    value = os.environ.get(f"{vendor}_{option}".upper())
                    if not value and interactive:
                        value = typer.prompt(f"{vendor} {option}", default="", show_default=False)
                    options[option] = value or None
            choices.append(
                SystemChoice(vendor, vendor, credentials, options, seed if sandbox else None)
            )
        text, document, suggestions = write_map(name, choices)
        output.write_text(text, encoding="utf-8")
        if as_json:
            out.out(json.dumps({"file": str(output), **document}, indent=2), highlight=False)
            return
        out.print(f"wrote {output}", markup=False)
        for line in suggestions:
            out.print(f"  {line}", markup=False, highlight=False)
        out.print(
            f"next: handoff doctor -c {output}, then handoff check {output}",
            markup=False,
            highlight=False,
        )

    clean_errors_call(run)


def write_map(name: str, choices: list[SystemChoice]) -> tuple[str, dict[str, object], list[str]]:
    """Discover the chosen systems: the starter map's text, a summary, suggestions in words."""
    from bot.systems import catalogs_of, open_systems
    from sync_core.discovery import discover
    from sync_core.map.model import IntegrationMap, System

    systems = {
        c.name: System(
            connector=c.connector,
            auth={key: f"env:{variable}" for key, variable in c.credentials.items()},
            options={k: v for k, v in c.options.items() if v is not None}
            | ({"seed": c.sandbox_seed} if c.sandbox_seed else {}),
            base_url="sandbox" if c.sandbox_seed is not None else None,
        )
        for c in choices
    }
    integration_map = IntegrationMap(name=name, systems=systems)
    catalogs = catalogs_of(integration_map)
    with open_systems(integration_map) as opened:
        found = discover(integration_map, opened.connectors, catalogs)
    plans = plan_entities(found, catalogs)
    suggestions = [
        f"{p.name}: minted by {p.minting.ref}"
        + (f", copied to {', '.join(c.ref for c, _ in p.copies)}" if p.copies else "")
        for p in plans
    ]
    document: dict[str, object] = {
        "systems": [c.name for c in choices],
        "entities": {
            p.name: {
                "minted_by": p.minting.ref,
                "copies": {c.ref: id_field for c, id_field in p.copies},
                "why": p.why,
            }
            for p in plans
        },
        "suggestions": suggestions,
    }
    return starter_map(name, choices, found, catalogs), document, suggestions
