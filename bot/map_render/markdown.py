"""The map as one Markdown document: what the team reads, reviews and signs off."""

from __future__ import annotations

from sync_core.map.document import ArrowKind, EntityDoc, MapDocument, Owner, View


def markdown_document(document: MapDocument, view: View = View.BOTH) -> str:
    lines = [f"# {_md(document.name)}", ""]
    lines += _people(document)
    lines += _systems(document)
    lines += _entities(document)
    lines += _flows(document)
    lines += _phases(document)
    lines += _states(document, view)
    return "\n".join(lines).rstrip() + "\n"


def _people(document: MapDocument) -> list[str]:
    admins = ", ".join(_code(a) for a in document.admins) or "none"
    operators = ", ".join(_code(o) for o in document.operators) or "the admins only"
    mention = f", escalating to {_code(document.alert_mention)}" if document.alert_mention else ""
    return [
        f"- **Admins** (promote and roll back phases, run and pause flows): {admins}",
        f"- **Alerts** go to {_code(document.alert_channel)}{mention}; "
        f"Retry and Ignore by {operators}",
        "",
    ]


def _systems(document: MapDocument) -> list[str]:
    lines = ["## Systems", "", "| system | connector | record types | mints the canonical ID of |"]
    lines.append("| --- | --- | --- | --- |")
    for system in document.systems:
        lines.append(
            f"| {_cell(system.name)} | {_cell(system.connector)} | "
            f"{_cell(', '.join(system.record_types) or '—')} | "
            f"{_cell_code(', '.join(system.mints)) if system.mints else '—'} |"
        )
    custom = [
        f"- {_code(system.name + '.' + record)}: {', '.join(_code(f) for f in fields)}"
        for system in document.systems
        for record, fields in system.custom_fields.items()
    ]
    if custom:
        lines += ["", "Custom fields Handoff writes:", "", *custom]
    return [*lines, ""]


def _entities(document: MapDocument) -> list[str]:
    lines = ["## Entities", ""]
    for entity in document.entities:
        lines += _entity(entity)
    return lines


def _entity(entity: EntityDoc) -> list[str]:
    lines = [f"### {_md(entity.name)}", ""]
    if entity.description:
        lines += [_md(entity.description), ""]
    lines.append(
        f"- **Canonical ID**: {_code(entity.id_format)}, minted by {_code(entity.minted_by)}"
    )
    if entity.display_name:
        lines.append(f"- **Named as**: {_code(entity.display_name)}")
    lines.append("- **Source of truth**:")
    lines += [f"  - {_owner(owner)}" for owner in entity.owners] or ["  - not declared"]
    if entity.copies:
        lines.append("- **Copies** (each keeps the canonical ID in a field):")
        lines += [f"  - {_code(ref)} in {_code(field)}" for ref, field in entity.copies.items()]
    if entity.parent:
        lines.append(f"- **Parent**: {_code(entity.parent)}")
    return [*lines, ""]


def _owner(owner: Owner) -> str:
    text = _code(owner.record)
    text += (
        f" owns {', '.join(_code(f) for f in owner.fields)}"
        if owner.fields is not None
        else " owns every field no other line owns"
    )
    if owner.until:
        text += f", until {_code(owner.until)}"
    if owner.when:
        text += f", while {_code(owner.when)}"
    return text


def _flows(document: MapDocument) -> list[str]:
    lines = ["## Flows", ""]
    for flow in document.flows:
        lines += [
            f"### {_md(flow.name)}",
            "",
            f"- **Direction**: {flow.direction}, {_code(flow.drawn)}",
            f"- **Phase**: {flow.phase} ({flow.state.value})",
            f"- **Condition**: {_code(flow.when) if flow.when else 'every record'}",
            f"- **Schedule**: {flow.schedule}",
        ]
        if flow.drift:
            lines.append(f"- **A hand edit of a field it writes**: {flow.drift}")
        if flow.description:
            lines.append(f"- {_md(flow.description)}")
        arrow = "conflict rule" if flow.direction == "two-way" else "from"
        lines += ["", f"| field | {arrow} |", "| --- | --- |"]
        lines += [
            f"| {_cell_code(target)} | {_cell_code(source)} |" for target, source in flow.fields
        ]
        if flow.link_back:
            lines += ["", f"Link back: {_code(flow.link_back)}"]
        lines.append("")
    return lines


def _phases(document: MapDocument) -> list[str]:
    lines = ["## Phases", ""]
    for phase in document.phases:
        lines += [
            f"### Phase {phase.id}: {_md(phase.name)}",
            "",
            f"- **State**: {phase.state.value}",
            f"- **Parallel period**: {phase.parallel_days} day(s) of shadow writes before cutover",
            f"- **Flows**: {', '.join(_code(f) for f in phase.flows) or 'none'}",
            f"- **Manual step it retires**: {_md(phase.manual_step or 'not described')}",
        ]
        for copy in phase.manual_copies:
            fields = ", ".join(_code(f) for f in copy.fields) or "the record"
            when = f" {_md(copy.when)}" if copy.when else ""
            lines.append(
                f"  - today {_md(copy.who)} copies {fields} from {_code(copy.source)} "
                f"to {_code(copy.target)}{when}"
            )
        lines.append("")
    return lines


def _states(document: MapDocument, view: View) -> list[str]:
    lines = ["## Current and target state", ""]
    views = [View.CURRENT, View.TARGET] if view is View.BOTH else [view]
    for shown in views:
        lines += [f"**{shown.value.capitalize()}**", ""]
        for arrow in document.arrows_of(shown):
            sign = {ArrowKind.ONE_WAY: "──▶", ArrowKind.TWO_WAY: "◀──▶", ArrowKind.MANUAL: "┄┄▶"}
            carries = f" (stamps {_code(arrow.carries_id)})" if arrow.carries_id else ""
            lines.append(
                f"- {_code(f'{arrow.source} {sign[arrow.kind]} {arrow.target}')} "
                f"{_md(arrow.label)}, phase {arrow.phase} {arrow.state.value}{carries}"
            )
        if warning := document.two_way_warning(shown):
            lines.append(f"- ⚠ {warning}")
        lines.append("")
    lines.append("The picture: `handoff map render MAP --format svg` (or `png`, `html`).")
    return lines


def _md(text: str) -> str:
    """Map text as inert Markdown: no markup, no HTML."""
    out = []
    for ch in text.replace("\n", " "):
        out.append("\\" + ch if ch in "\\`*_[]<>#|!" else ch)
    return "".join(out)


def _code(text: str) -> str:
    text = text.replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    return _md(text)


def _cell_code(text: str) -> str:
    """A code span inside a table cell: the pipe is escaped, or it would end the cell."""
    return _code(text).replace("|", "\\|")
