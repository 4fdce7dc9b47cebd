"""The starter map ``handoff init`` writes: the systems, and what discovery suggests.

Suggestions, each said in a comment next to it:

- an entity per group of record types that hold the same customers (records that look alike
  across systems), else the largest record type of each system;
- its minting system: the record type whose records appeared first (by creation dates);
- the others as copies, each with the field that will hold the canonical ID;
- a one-way flow from the minting record type to each copy, copying the name (and an email
  when both sides have one);
- three phases, one flow each to begin with, all planned.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.record_types import RecordType
from sync_core.discovery import Discovery, RecordTypeFound

CANONICAL_CUSTOM_FIELD = "Handoff ID"
# A plain field that can hold another system's id: ``ContactNumber``, ``Reference``...
PLAIN_ID_FIELD = re.compile(r"(number|reference|code)$", re.I)
EMAIL_FIELD = re.compile(r"email", re.I)


@dataclass(frozen=True)
class SystemChoice:
    """One system to connect: its name in the map, the connector, and the credentials and
    options it needs (``{key: environment variable}`` and ``{option: value or None}``)."""

    name: str
    connector: str
    credentials: Mapping[str, str]
    options: Mapping[str, Any] = field(default_factory=dict)
    sandbox_seed: str | None = None  # set: ``base_url: sandbox`` with this seed


@dataclass
class EntityPlan:
    name: str
    minting: RecordTypeFound
    copies: list[tuple[RecordTypeFound, str]]  # (record type, id_field)
    why: str


def y(value: Any) -> str:
    """A YAML scalar: JSON's double-quoted string is valid YAML."""
    if isinstance(value, bool | int | float) or value is None:
        return json.dumps(value)
    text = str(value)
    return (
        text
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", text)
        else json.dumps(text, ensure_ascii=False)
    )


def id_field_for(spec: RecordType, record_type: str) -> str | None:
    """The field of a copy that holds the canonical ID: a custom field where the record type
    has them (in the vendor's own way where it has one: a Mailchimp merge field), else a
    writable plain id-like field (one named after the record type first)."""
    if spec.suggested_id_field:
        return spec.suggested_id_field
    if spec.supports_custom_fields:
        return f"custom_field:{CANONICAL_CUSTOM_FIELD}"
    plain = sorted(f for f in spec.writable if PLAIN_ID_FIELD.search(f))
    own = [f for f in plain if f.casefold().startswith(record_type.casefold())]
    chosen = own or plain
    return chosen[0] if chosen else None


def plan_entities(
    found: Discovery, catalogs: Mapping[str, Mapping[str, RecordType]]
) -> list[EntityPlan]:
    # A record type nothing can be written to (a Mailchimp audience) is there to be found,
    # not a customer record: it is neither minted from nor copied to.
    readable = {
        r.ref: r
        for r in found.record_types
        if r.error is None and catalogs[r.system][r.record_type].writable
    }
    weights: dict[tuple[str, str], int] = {}
    for twin in found.twins:
        if twin.left in readable and twin.right in readable:
            key = (twin.left, twin.right)
            weights[key] = weights.get(key, 0) + 1
    used: set[str] = set()
    groups: list[tuple[list[str], str]] = []
    for (left, right), count in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])):
        if left in used or right in used:
            continue
        group = [left, right]
        systems = {left.split(".")[0], right.split(".")[0]}
        for (a, b), _n in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])):
            for ref, other in ((a, b), (b, a)):
                if other in group and ref not in used and ref.split(".")[0] not in systems:
                    group.append(ref)
                    systems.add(ref.split(".")[0])
        used.update(group)
        groups.append((group, f"{count} record(s) look alike in {left} and {right}"))
    largest: dict[str, RecordTypeFound] = {}
    for r in sorted(readable.values(), key=lambda r: r.ref):
        best = largest.get(r.system)
        if best is None or r.count > best.count:
            largest[r.system] = r
    if not groups and largest:
        refs = [largest[s].ref for s in sorted(largest)]
        groups.append((refs, "no records look alike yet: the largest record type of each system"))
    elif groups:
        # A system none of whose records look like another's still gets the first entity's
        # copy in its largest record type: a suggestion to confirm, said as one.
        grouped = {ref.split(".")[0] for refs, _ in groups for ref in refs}
        extra = [largest[s].ref for s in sorted(largest) if s not in grouped]
        if extra:
            refs, why = groups[0]
            groups[0] = (
                refs + extra,
                why + f"; {', '.join(extra)} added as the largest record type of its system",
            )
    plans: list[EntityPlan] = []
    names: set[str] = set()
    for refs, why in groups:
        members = sorted((readable[ref] for ref in refs), key=_first_seen)
        minting = members[0]
        copies = []
        for member in members[1:]:
            id_field = id_field_for(catalogs[member.system][member.record_type], member.record_type)
            if id_field is not None:
                copies.append((member, id_field))
        name = (
            minting.record_type
            if minting.record_type not in names
            else minting.ref.replace(".", "_")
        )
        names.add(name)
        plans.append(EntityPlan(name, minting, copies, why))
    return plans


def _first_seen(found: RecordTypeFound) -> tuple[int, str, str]:
    if found.first_created is None:
        return (1, "", found.ref)
    return (0, found.first_created.isoformat(), found.ref)


def flow_fields(source: RecordType, target: RecordType) -> dict[str, str]:
    """The name, and an email when both sides have one."""
    fields: dict[str, str] = {}
    if target.display_field in target.writable:
        fields[target.display_field] = "{{ " + source.display_field + " }}"
    source_email = sorted(f for f in source.fields if EMAIL_FIELD.search(f))
    target_email = sorted(f for f in target.writable if EMAIL_FIELD.search(f))
    if source_email and target_email:
        fields[target_email[0]] = "{{ " + source_email[0] + " }}"
    return fields


def starter_map(
    name: str,
    systems: Sequence[SystemChoice],
    found: Discovery,
    catalogs: Mapping[str, Mapping[str, RecordType]],
) -> str:
    """The commented YAML of the starter map."""
    plans = plan_entities(found, catalogs)
    lines = [
        f"# {name}: a starter map written by `handoff init` from what the systems hold.",
        "# Every suggestion below says why; change what is wrong, then run:",
        "#   handoff doctor -c THIS_FILE   (credentials, permissions, rate limits)",
        "#   handoff check THIS_FILE       (the map itself)",
        "# docs/map.md explains every key; `handoff fields SYSTEM.RECORD_TYPE` lists the fields.",
        "version: 1",
        f"name: {y(name)}",
        "",
        "systems:",
    ]
    for choice in systems:
        lines += [f"  {choice.name}:", f"    connector: {y(choice.connector)}"]
        if choice.sandbox_seed is not None:
            lines.append(
                "    base_url: sandbox            # the built-in sandbox; drop for the real API"
            )
        lines.append("    auth:")
        for key, variable in choice.credentials.items():
            lines.append(f"      {key}: {y('env:' + variable)}")
        options = dict(choice.options)
        if choice.sandbox_seed:
            options["seed"] = choice.sandbox_seed
        if options:
            given = any(value is not None for value in options.values())
            lines.append("    options:" if given else "    options: {}")
            for key, value in options.items():
                if value is None:
                    lines.append(f"      # {key}: ...           # set this before the first sync")
                else:
                    lines.append(f"      {key}: {y(value)}")
        lines.append("    # found:")
        for r in found.record_types:
            if r.system == choice.name:
                lines.append(f"    #   {r.record_type}: {_found_line(r)}")
    lines += ["", "entities:" if plans else "entities: {}"]
    for plan in plans:
        minting = plan.minting
        spec = catalogs[minting.system][minting.record_type]
        prefix = minting.system[:2].upper() + minting.record_type[:1].upper()
        created = minting.first_created.date().isoformat() if minting.first_created else "unknown"
        lines += [
            f"  {plan.name}:",
            *(f"    # {line}" for line in textwrap.wrap(plan.why + ".", 90)),
            f"    # Minted by {minting.ref}: its first record was created first ({created}).",
            f"    canonical_id: {{minted_by: {minting.ref}, format: {y(prefix + '-{id}')}}}",
            f"    display_name: {y('{{ ' + spec.display_field + ' }}')}",
            f"    source_of_truth: {minting.ref}",
        ]
        if plan.copies:
            lines.append("    copies:")
            for copy, id_field in plan.copies:
                lines.append(f"      {copy.ref}: {{id_field: {y(id_field)}}}")
            lines += [
                "    # `handoff match " + plan.name + "` links the copies typed by hand before.",
                "    match: {auto_accept: 0.95, review: 0.75}",
            ]
    flows = [(plan, copy) for plan in plans for copy, _ in plan.copies]
    phase_names = [
        "First copies",
        "Second copies",
        "The rest",
    ]
    lines += ["", "phases:"]
    for index, phase_name in enumerate(phase_names, start=1):
        in_phase = _phase_flows(flows, index)
        about = ", ".join(f"{p.minting.ref} → {c.ref}" for p, c in in_phase) or "nothing yet"
        lines += [
            f"  - id: {index}",
            f"    name: {y(phase_name + ': ' + about)}",
            "    parallel_days: 7",
            "    state: planned",
            "    manual_step: Describe the copying by hand that this phase retires.",
        ]
    lines += ["", "flows:" if flows else "flows: []"]
    for index, (plan, copy) in enumerate(flows):
        source = catalogs[plan.minting.system][plan.minting.record_type]
        target = catalogs[copy.system][copy.record_type]
        phase = min(index + 1, len(phase_names))
        flow_name = plan.minting.ref.replace(".", "-") + "-to-" + copy.ref.replace(".", "-")
        lines += [
            f"  - name: {y(flow_name)}",
            f"    phase: {phase}",
            f"    from: {plan.minting.ref}",
            f"    to: {copy.ref}",
            "    schedule: every 5m",
            "    fields:",
        ]
        for key, template in flow_fields(source, target).items():
            lines.append(f"      {y(key)}: {y(template)}")
    unused = [
        r.ref
        for r in found.record_types
        if r.error is None
        and all(r.ref != p.minting.ref and r.ref not in {c.ref for c, _ in p.copies} for p in plans)
    ]
    if unused:
        lines += ["", "# Also found, not used yet: " + ", ".join(unused) + "."]
    return "\n".join(lines) + "\n"


def _phase_flows(flows: list[Any], phase: int) -> list[Any]:
    return [f for index, f in enumerate(flows) if min(index + 1, 3) == phase]


def _found_line(r: RecordTypeFound) -> str:
    if r.error is not None:
        return "not readable (" + " ".join(r.error.split()) + ")"
    count = f"{r.count}" if r.complete else f"{r.count}+"
    first = f", first created {r.first_created.date().isoformat()}" if r.first_created else ""
    custom = [f.name for f in r.fields if f.custom]
    extra = f", custom fields: {', '.join(custom)}" if custom else ""
    return f"{count} records{first}{extra}"
