"""``handoff check MAP [--json]``: validate a map and show what it says.

The readable form draws systems, entities, phases and flows; ``--json`` prints the same data
with the problems for scripts and CI. Either way the exit code is 1 when the map has an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from bot.render import folded
from sync_core.map.loader import MapError, load_map
from sync_core.map.problems import Problem
from sync_core.map.summary import summarize


def check_command(path: Path, *, as_json: bool, console: Console) -> int:
    """Check an integration map: its systems, entities, phases, flows and every problem."""
    filename = str(path)
    try:
        loaded = load_map(path)
    except MapError as exc:
        return _report(filename, None, exc.problems, as_json=as_json, console=console)
    summary = summarize(loaded.map, loaded.problems)
    return _report(filename, summary, loaded.problems, as_json=as_json, console=console)


def _report(
    filename: str,
    summary: dict[str, Any] | None,
    problems: list[Problem],
    *,
    as_json: bool,
    console: Console,
) -> int:
    errors = sum(1 for p in problems if p.is_error)
    if as_json:
        document = {
            "file": filename,
            "ok": errors == 0,
            "summary": summary,
            "problems": [{"file": filename, **p.as_dict()} for p in problems],
        }
        # out(), not print(): no wrapping or markup, so the output stays parseable JSON.
        console.out(json.dumps(document, indent=2, ensure_ascii=False), highlight=False)
        return 1 if errors else 0
    if summary is not None:
        console.print(_render(filename, summary))
    for problem in problems:
        style = "bold red" if problem.is_error else "yellow"
        console.print(Text(problem.format(filename), style=style), soft_wrap=True)
    console.print(_verdict(problems))
    if summary is not None and not errors:
        console.print(
            Text(f"The document and picture: handoff map render {filename} --format md|svg|png"),
            style="dim",
        )
    return 1 if errors else 0


def _verdict(problems: list[Problem]) -> Text:
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    if not problems:
        return Text("✓ the map is valid", style="bold green")
    parts = [f"{errors} error{'s' * (errors != 1)}", f"{warnings} warning{'s' * (warnings != 1)}"]
    verdict = "✗ " if errors else "✓ valid, with "
    return Text(verdict + ", ".join(parts), style="bold red" if errors else "bold yellow")


def _render(filename: str, summary: dict[str, Any]) -> Group:
    title = Text.assemble((summary["name"], "bold"), f"  ({filename})")
    return Group(
        title,
        folded(_systems_table(summary["systems"])),
        _entities_tree(summary["entities"]),
        folded(_phases_table(summary["phases"])),
        folded(_flows_table(summary["flows"], summary["phases"])),
    )


def _systems_table(systems: dict[str, Any]) -> Table:
    table = Table(title="Systems", title_justify="left", expand=False)
    for column in ("System", "Connector", "Record types", "Credentials (environment)"):
        table.add_column(column)
    for name, system in systems.items():
        connector = system["connector"]
        if system["emulates"]:
            connector += f" (emulates {system['emulates']})"
        credentials = "\n".join(
            f"{key}: {env or '⚠ written inline'}" for key, env in system["credentials"].items()
        )
        table.add_row(
            Text(name),
            Text(connector),
            Text(", ".join(system["record_types"]) or "—"),
            Text(credentials or "—"),
        )
    return table


def _entities_tree(entities: dict[str, Any]) -> Tree:
    tree = Tree(Text("Entities", style="bold italic"))
    for name, entity in entities.items():
        label = Text.assemble((name, "bold"))
        if entity["description"]:
            label.append(f" — {entity['description']}")
        node = tree.add(label)
        canonical = entity["canonical_id"]
        node.add(Text(f"canonical ID {canonical['format']}, minted by {canonical['minted_by']}"))
        owners = node.add(Text("source of truth"))
        for line in entity["source_of_truth"]:
            text = line["system"]
            text += (
                f": {', '.join(line['fields'])}"
                if line["fields"] is not None
                else ": every other field"
            )
            if line["until"]:
                text += f" until {line['until']}"
            if line["when"]:
                text += f" while {line['when']}"
            owners.add(Text(text))
        if entity["copies"]:
            copies = node.add(Text("copies (where the canonical ID is kept)"))
            for ref, id_field in entity["copies"].items():
                copies.add(Text(f"{ref} → {id_field}"))
        if entity["parent"]:
            parent = entity["parent"]
            node.add(Text(f"parent {parent['entity']} via {parent['via']} ({parent['record']})"))
    return tree


def _phases_table(phases: list[dict[str, Any]]) -> Table:
    table = Table(title="Phases", title_justify="left")
    for column in ("#", "Name", "State", "Parallel days", "Manual step it retires"):
        table.add_column(column)
    for phase in phases:
        table.add_row(
            str(phase["id"]),
            Text(phase["name"]),
            Text(phase["state"]),
            str(phase["parallel_days"]),
            Text(phase["manual_step"] or "—"),
        )
    return table


def _flows_table(flows: list[dict[str, Any]], phases: list[dict[str, Any]]) -> Table:
    declared = {phase["id"] for phase in phases}
    table = Table(title="Flows", title_justify="left")
    table.add_column("Phase", justify="right")
    table.add_column("Flow")
    table.add_column("When / schedule")
    table.add_column("Fields (target ← source)")
    for flow in flows:
        arrow = " ← " if flow["direction"] == "one-way" else ": "
        lines = [f"{key}{arrow}{_show(value)}" for key, value in flow["fields"].items()]
        if flow["link_back"]:
            link = flow["link_back"]
            lines.append(f"link back {flow['from']}.{link['field']} ← {link['value']}")
        when = f"when {flow['when']}\n" if flow["when"] else ""
        phase = str(flow["phase"]) + ("" if flow["phase"] in declared else " (undeclared)")
        table.add_row(
            Text(phase),
            Text.assemble((flow["name"], "bold"), "\n", flow["drawn"]),
            Text(when + flow["schedule"]),
            Text("\n".join(lines)),
        )
    return table


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
