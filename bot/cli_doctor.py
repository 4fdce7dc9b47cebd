"""``handoff doctor [-c MAP] [--json]``: one line per check, green or with the fix."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from bot.cli_phase import MapOption

out = Console()
MARKS = {"ok": ("✓", "green"), "warning": ("!", "yellow"), "failed": ("✗", "bold red")}


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_command)


def doctor_command(
    config: MapOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check credentials, authentication, permissions, custom fields and rate limits."""
    from bot.cli import clean_errors_call
    from bot.cli_discover import load_systems_map
    from bot.doctor import diagnose

    def run() -> int:
        findings = diagnose(load_systems_map(config), os.environ)
        failed = sum(1 for f in findings if f.failed)
        if as_json:
            document = {"ok": not failed, "findings": [asdict(f) for f in findings]}
            out.out(json.dumps(document, indent=2, ensure_ascii=False), highlight=False)
            return 1 if failed else 0
        for finding in findings:
            mark, style = MARKS[finding.status]
            line = Text(f"{mark} ", style=style)
            line.append(f"{finding.subject} {finding.check}: ", style="bold")
            line.append(finding.message)
            if finding.fix:
                line.append(f" — fix: {finding.fix}", style=style)
            out.print(line, soft_wrap=False)
        verdict = f"{failed} check(s) failed" if failed else "every check passed"
        out.print(verdict, markup=False, style="bold red" if failed else "bold green")
        return 1 if failed else 0

    raise typer.Exit(clean_errors_call(run))
