"""``handoff map render``: the map as the document a team agrees on, and its picture."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.map_render import Format, render
from sync_core.map.document import View, build_document

map_app = typer.Typer(help="The map as a document and a picture.", no_args_is_help=True)


@map_app.command("render")
def render_command(
    map_file: Annotated[Path, typer.Argument(help="The integration map.")],
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="md: the document; svg, png: the picture; html: both in one page.",
        ),
    ] = Format.MD,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: standard output).")
    ] = None,
    state: Annotated[
        View,
        typer.Option("--state", help="The picture of today (current), the goal (target) or both."),
    ] = View.BOTH,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the document's data as JSON instead.")
    ] = False,
) -> None:
    """Write the map as a document (Markdown) or a picture (SVG, PNG), or both (HTML)."""
    from bot.bootstrap import read_map
    from bot.cli import clean_errors_call, out

    def run() -> None:
        document = build_document(read_map(map_file))
        if as_json:
            out.out(json.dumps(document.as_dict(), indent=2, ensure_ascii=False), highlight=False)
            return
        data = render(document, fmt, state)
        if output is not None:
            output.write_bytes(data)
            out.print(f"wrote {output} ({fmt.value}, {len(data):,} bytes)", markup=False)
        elif fmt is Format.PNG and sys.stdout.isatty():
            raise ValueError("a PNG is not for a terminal: give -o FILE (e.g. -o map.png)")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()

    clean_errors_call(run)


def register(app: typer.Typer) -> None:
    app.add_typer(map_app, name="map")
