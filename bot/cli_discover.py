"""``handoff discover`` and ``handoff fields``: what the systems hold, read from them.

Both read only. ``discover`` describes every record type of every system of the map;
``fields SYSTEM.RECORD_TYPE`` lists one record type's fields with the exact name a map uses.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bot.cli_phase import MapOption
from connectors.base import ConnectorError
from sync_core.discovery import Discovery, FieldFound, RecordTypeFound

out = Console()
err = Console(stderr=True, soft_wrap=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print data as JSON.")]
PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def register(app: typer.Typer) -> None:
    app.command("discover")(discover_command)
    app.command("fields")(fields_command)


def discover_command(config: MapOption = None, as_json: JsonOption = False) -> None:
    """Read each system of the map (read only): record types, counts, fields, likely twins."""
    from bot.cli import clean_errors_call

    def run() -> None:
        found = run_discovery(config)
        if as_json:
            out.out(json.dumps(discovery_dict(found), indent=2, default=str), highlight=False)
            return
        render_discovery(found, out)

    clean_errors_call(run)


def fields_command(
    record: Annotated[str, typer.Argument(help="SYSTEM.RECORD_TYPE, e.g. pipedrive.deal")],
    config: MapOption = None,
    as_json: JsonOption = False,
) -> None:
    """List a record type's readable and writable fields and the name to use in a map."""
    from bot.cli import clean_errors_call

    def run() -> None:
        rows = record_type_fields(config, record)
        if as_json:
            out.out(json.dumps(rows, indent=2, default=str), highlight=False)
            return
        table = Table(title=record, expand=False)
        for column in ("field", "read", "write", "type", "kind", "in a map"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(
                row["name"],
                "yes" if row["readable"] else "",
                "yes" if row["writable"] else "",
                row["type"],
                row["kind"],
                row["in_a_map"],
            )
        out.print(table)

    clean_errors_call(run)


# ---- the work ------------------------------------------------------------------------------


def load_systems_map(config: Path | None) -> Any:
    """The map's systems (and entities), even while other parts of it are still wrong."""
    from bot.settings import Settings
    from sync_core.map.loader import load_map

    return load_map(Settings.from_env(map_path=config).map_path).map


def run_discovery(config: Path | None) -> Discovery:
    from bot.systems import catalogs_of, open_systems
    from sync_core.discovery import discover

    integration_map = load_systems_map(config)
    with open_systems(integration_map) as systems:
        return discover(integration_map, systems.connectors, catalogs_of(integration_map))


def record_type_fields(config: Path | None, ref: str) -> list[dict[str, Any]]:
    """One record type's fields: declared ones, then custom ones found live or declared by the
    map, each with the expression (reading) or key (writing) a map uses."""
    from bot.systems import catalogs_of, open_systems
    from sync_core.discovery import describe_fields
    from sync_core.map.model import IntegrationMap, RecordRef
    from sync_core.matching.reading import read_all

    parsed = RecordRef.parse(ref)
    integration_map: IntegrationMap = load_systems_map(config)
    if parsed.system not in integration_map.systems:
        known = ", ".join(sorted(integration_map.systems)) or "none"
        raise LookupError(f"no system {parsed.system!r} in the map (systems: {known})")
    declared = catalogs_of(integration_map)[parsed.system]
    declaration = declared.get(parsed.record_type)
    if declaration is None:
        known = ", ".join(sorted(declared)) or "none"
        raise LookupError(f"{parsed.system} has no record type {parsed.record_type!r} ({known})")
    only = integration_map.model_copy(
        update={"systems": {parsed.system: integration_map.systems[parsed.system]}}
    )
    with open_systems(only) as systems:
        try:
            records = read_all(systems.connectors[parsed.system], parsed.record_type)
        except ConnectorError as exc:
            # The declared fields still answer the question; only the live custom ones are lost.
            err.print(
                f"handoff: cannot read {ref} ({exc}): custom fields found live are not listed",
                markup=False,
                highlight=False,
            )
            records = []
    found = describe_fields(declaration, records, parsed.record_type)
    names = {f.name for f in found}
    map_custom = integration_map.systems[parsed.system].custom_fields.get(parsed.record_type, [])
    found += [
        FieldFound(name, "empty", 0, custom=True, writable=True)
        for name in map_custom
        if name not in names
    ]
    rows = []
    for f in found:
        kind = "custom" if f.custom else "standard"
        if f.name == declaration.id_field:
            kind = "vendor id"
        rows.append(
            {
                "name": f.name,
                "readable": f.readable,
                "writable": f.writable,
                "type": f.type,
                "kind": kind,
                "samples": list(f.samples),
                "in_a_map": map_name(f),
            }
        )
    return rows


def map_name(found: FieldFound) -> str:
    """How a map names the field: the expression reading it, else the key writing it."""
    if not found.readable:
        return f"{found.name}: …"
    if PLAIN_NAME.match(found.name):
        return "{{ " + found.name + " }}"
    return '{{ record["' + found.name + '"] }}'


# ---- output ----------------------------------------------------------------------------------


def discovery_dict(found: Discovery) -> dict[str, Any]:
    return {
        "record_types": [
            {
                **{k: v for k, v in asdict(r).items() if k != "fields"},
                "ref": r.ref,
                "fields": [asdict(f) for f in r.fields],
            }
            for r in found.record_types
        ],
        "twins": [asdict(t) for t in found.twins],
    }


def render_discovery(found: Discovery, console: Console) -> None:
    summary = Table(title="Record types", expand=False)
    for column in ("record type", "records", "first created", "canonical IDs", "custom fields"):
        summary.add_column(column, overflow="fold")
    for r in found.record_types:
        summary.add_row(
            r.ref,
            _count(r),
            r.first_created.date().isoformat() if r.first_created else "",
            ", ".join(f"{n} carry {field}" for field, n in r.carrying_canonical_id.items()),
            ", ".join(f.name for f in r.fields if f.custom),
        )
    console.print(summary)
    for r in found.record_types:
        if r.error or not r.count:
            continue
        table = Table(title=f"{r.ref}: fields", expand=False)
        for column in ("field", "type", "filled", "samples (personal data masked)"):
            table.add_column(column, overflow="fold")
        for f in r.fields:
            if not f.readable:
                continue
            name = f"{f.name} (custom)" if f.custom else f.name
            table.add_row(name, f.type, f"{f.filled}/{r.count}", "; ".join(f.samples))
        console.print(table)
    if found.twins:
        twins = Table(title="Likely the same customer in two systems", expand=False)
        for column in ("record", "looks like", "score", "why"):
            twins.add_column(column, overflow="fold")
        for t in found.twins:
            twins.add_row(
                f"{t.left} {t.left_id} {t.left_name or ''}",
                f"{t.right} {t.right_id} {t.right_name or ''}",
                f"{t.score:.2f}",
                "; ".join(t.reasons),
            )
        console.print(twins)
    else:
        console.print("no likely twins across systems", markup=False)
    console.print(
        "fields of one record type: handoff fields SYSTEM.RECORD_TYPE; a starter map: handoff init",
        markup=False,
    )


def _count(r: RecordTypeFound) -> str:
    if r.error:
        return f"unreadable: {r.error}"
    return f"{r.count}" if r.complete else f"{r.count}+"
